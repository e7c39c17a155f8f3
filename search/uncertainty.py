"""How sure a front point's quality loss and saving are: bootstrap intervals over the held-out clips.

A point's ViSQOL is a mean over a few clips; the difference to the full-only anchor can be clip noise. Each
interval resamples the clips with replacement (:data:`RESAMPLES` times, a fixed seed: the same study gives the
same report) and takes the central :data:`LEVEL` share of the resampled means. When the anchor scored the same
clips (same ids, same order: the full-only baseline of a study, or the point's own full path) the differences
are paired clip by clip; otherwise the two means are resampled independently.

One sign convention: ``lost`` is the anchor's ViSQOL minus the point's (positive: the point is worse).
A quality tolerance is held when the interval's upper end is at most the tolerance (the loss is at most the
tolerance with :data:`LEVEL` confidence); a point without per-clip scores holds it on its mean alone and says
so (``clips == 0``). The default tolerance is measured on the study (:func:`measured_tolerance`): the median
half-width of the paired :data:`LEVEL` intervals of the study's points' losses against the full-only baseline,
i.e. how precisely these clips resolve a *paired* difference, never below the paper's equal-quality figure.
(The spread of the baseline's own mean over its clips, the rule before, measures how well the clips pin an
absolute score: on the demo 0.39 MOS, which let a pick losing 0.17 with a paired interval clear of zero pass.)
The latency saving's interval resamples the clips' light usage and prices it on the line between the point's
full and light pass (its switch-back and replay cost held at the point's own).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dslnas.search.records import TrialRecord

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
PAPER_EQUAL_QUALITY = 0.05
"""The tolerance of a study without per-clip scores (MOS-LQO): the ViSQOL a routed run may lose against
full-only and still count as equal quality (``trainers.evaluate.EQUAL_QUALITY_TOLERANCE``, the paper's 4.50
vs 4.51)."""
MIN_NOISE_CLIPS = 2  # clips a noise measurement needs (one clip has no spread)


class ToleranceSource(str, enum.Enum):
    CLIP_NOISE = "clip noise"   # measured on the study (:func:`measured_tolerance`)
    GIVEN = "given"             # ``--max-visqol-loss``
    PAPER = "paper"             # no per-clip scores to measure on: :data:`PAPER_EQUAL_QUALITY`


@dataclass(frozen=True)
class QualityTolerance:
    """The most ViSQOL a pick may lose against full-only, and where that figure came from (``points`` paired
    intervals over ``clips`` clips against trial ``trial``, ``measured_on`` naming it)."""

    visqol: float
    source: ToleranceSource
    clips: int = 0
    trial: int | None = None
    measured_on: str = ""
    points: int = 0  # the paired intervals a measured figure is the median of

    def origin(self) -> str:
        """Where the figure came from, in words (the report states it)."""
        if self.source is ToleranceSource.GIVEN:
            return "the value given by --max-visqol-loss"
        if self.source is ToleranceSource.PAPER:
            return (f"the paper's equal-quality figure: this study has no per-clip scores (fewer than "
                    f"{MIN_NOISE_CLIPS}) to measure its noise on")
        return (f"the measured clip noise: the median half-width of the paired {LEVEL:.0%} bootstrap intervals of "
                f"{self.points} points' losses against {self.measured_on} over its {self.clips} clips (at least "
                f"the paper's {PAPER_EQUAL_QUALITY})")


def given_tolerance(max_visqol_loss: float) -> QualityTolerance:
    return QualityTolerance(max_visqol_loss, ToleranceSource.GIVEN)


def measured_tolerance(trial: int | None, losses: Sequence["Interval"], measured_on: str = "") -> QualityTolerance:
    """The default tolerance: the median half-width of ``losses`` (the paired intervals of the study's points'
    losses against the full-only baseline, trial ``trial``; ``measured_on`` names it), at least
    :data:`PAPER_EQUAL_QUALITY`; the paper's figure when no paired interval over :data:`MIN_NOISE_CLIPS` clips
    or more is known."""
    paired = [i for i in losses if i.known and i.paired and i.clips >= MIN_NOISE_CLIPS]
    if not paired:
        return QualityTolerance(PAPER_EQUAL_QUALITY, ToleranceSource.PAPER)
    half_width = float(np.median([(i.high - i.low) / 2 for i in paired]))
    return QualityTolerance(max(half_width, PAPER_EQUAL_QUALITY), ToleranceSource.CLIP_NOISE,
                            max(i.clips for i in paired), trial, measured_on or f"trial {trial}", len(paired))


@dataclass(frozen=True)
class Interval:
    """A mean and its bootstrap interval (``low``..``high``; NaN without per-clip scores) over ``clips`` clips."""

    mean: float
    low: float
    high: float
    clips: int
    paired: bool

    @property
    def known(self) -> bool:
        return self.clips > 0 and math.isfinite(self.low)

    @property
    def within_noise(self) -> bool:
        """The interval holds zero: the difference cannot be told from clip noise."""
        return self.known and self.low <= 0.0 <= self.high

    def holds(self, tolerance: float) -> bool:
        """At most ``tolerance`` with :data:`LEVEL` confidence (the mean alone where no interval is known)."""
        return (self.high if self.known else self.mean) <= tolerance + 1e-12


@dataclass(frozen=True)
class PointUncertainty:
    """A point's quality lost against its anchor (overall and per class) and its latency saving, with intervals."""

    visqol_lost: Interval
    visqol_lost_per_class: dict[str, Interval]
    latency_saved_pct: Interval


def _bootstrap(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[RESAMPLES] means of ``values`` [N] resampled with replacement."""
    picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    return values[picks].mean(axis=1)


def _interval(mean: float, resampled: np.ndarray, clips: int, paired: bool) -> Interval:
    tail = (1.0 - LEVEL) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Interval(mean, float(low), float(high), clips, paired)


def loss_interval(anchor: Sequence[float], anchor_ids: Sequence[str], point: Sequence[float],
                  point_ids: Sequence[str], mean_lost: float) -> Interval:
    """``mean_lost`` (anchor minus point) with its bootstrap interval over the clips (paired when the ids match)."""
    if not anchor or not point:
        return Interval(mean_lost, math.nan, math.nan, 0, False)
    rng = np.random.default_rng(SEED)
    a, p = np.asarray(anchor, dtype=float), np.asarray(point, dtype=float)
    if list(anchor_ids) == list(point_ids):
        return _interval(mean_lost, _bootstrap(a - p, rng), len(p), True)
    return _interval(mean_lost, _bootstrap(a, rng) - _bootstrap(p, rng), len(p), False)


def point_uncertainty(record: TrialRecord, anchor: TrialRecord | None, lost: float,
                      anchor_latency_ms: float) -> PointUncertainty:
    """``record``'s intervals against the anchor record (None: its own full path), ``lost`` its mean loss."""
    mine = record.clips
    theirs = [(c.clip_id, c.visqol_mixed) for c in anchor.clips] if anchor is not None else \
        [(c.clip_id, c.visqol_full) for c in mine]
    overall = loss_interval([v for _, v in theirs], [i for i, _ in theirs], [c.visqol_mixed for c in mine],
                            [c.clip_id for c in mine], lost)
    per_class = {}
    for label in sorted({c.label for c in mine}):
        ids = {c.clip_id for c in mine if c.label == label}
        a = [(i, v) for i, v in theirs if i in ids]
        p = [c for c in mine if c.label == label]
        mean = float(np.mean([v for _, v in a]) - np.mean([c.visqol_mixed for c in p])) if a else math.nan
        per_class[label] = loss_interval([v for _, v in a], [i for i, _ in a], [c.visqol_mixed for c in p],
                                         [c.clip_id for c in p], mean)
    return PointUncertainty(overall, per_class, _saving_interval(record, anchor_latency_ms))


def _saving_interval(record: TrialRecord, anchor_latency_ms: float) -> Interval:
    """The latency saving (% of the anchor's) with the clips' light usage resampled."""
    saved = (anchor_latency_ms - record.latency_ms) / anchor_latency_ms * 100.0 if anchor_latency_ms else math.nan
    clips = record.clips
    if not clips or not math.isfinite(saved):
        return Interval(saved, math.nan, math.nan, 0, False)
    full, light = record.cost.latency_ms.full, record.cost.latency_ms.light
    overhead = record.latency_ms - (full + (light - full) * record.light_usage)  # switch-backs, replays
    usage = np.asarray([c.light_usage for c in clips], dtype=float)
    resampled = _bootstrap(usage, np.random.default_rng(SEED))  # the record's usage is the mean over clips
    latency = full + (light - full) * resampled + overhead
    return _interval(saved, (anchor_latency_ms - latency) / anchor_latency_ms * 100.0, len(clips), True)

