"""Evaluation of a trained DSL codec on the streaming runtime: full / light / mixed quality, routing, sparsity.

Each clip streams segment by segment through the base, mask and switch once, then through exactly one tail
per segment under the candidate's state policy (``trainers.streaming``): all-full, all-light and routed at
the threshold. Each run's embedding is quantized and decoded offline (the decoder is not on the device) and
scored with ViSQOL MOS-LQO against the input. Under ``reset`` and ``stale`` the tails' causal state depends on
the routing, so every threshold of the sweep is its own streaming run; under ``warm`` it does not, and a routed
run is composed exactly from the all-full and all-light runs (checked against the segment loop on the first
clip). ViSQOL is re-used for a clip whose route pattern was seen.
The sweep's thresholds come from the candidate's own predicted-discrepancy distribution (quantiles, so light
usage spans 0..1) unless given; the oracle router (routing on the actual discrepancy of its own run) gets
the same family of thresholds on the actual discrepancy. Results aggregate per class and overall. The
offline (torch.where) mixed embedding stays only as a labelled diagnostic (its L1 to the streaming one).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr

from dslnas.spaces.candidate import StatePolicy
from dslnas.trainers.codec import DSLCodec
from dslnas.trainers.data import Clip
from dslnas.trainers.stream_eval import (
    SWEEP_QUANTILES, ClipStreamEvaluation, RoutedScore, quantile_thresholds, score_clips,
)
from dslnas.trainers.streaming import StreamingEncoder
from dslnas.trainers.sweep_point import SweepPoint
from dslnas.trainers.visqol_score import VisqolScorer

ProgressCallback = Callable[[str, int, int], None]  # (phase: "stream" clips or "visqol" runs, done, total)
Router = Callable[[ClipStreamEvaluation, float], RoutedScore]


class Execution(str, enum.Enum):
    """How the scored embeddings were computed."""

    STREAMING = "streaming"  # segment by segment, one tail per segment, explicit causal state


@dataclass(frozen=True)
class ClipEvaluation:
    """One clip at the evaluation threshold; every figure from the streaming run."""

    clip_id: str
    label: str
    visqol_full: float
    visqol_light: float
    visqol_mixed: float
    light_usage: float              # share of the clip's segments routed light, 0..1
    sparsity: float                 # mask sparsity: share of exact zeros in the mask's activation map, 0..1
    predicted_discrepancy: float    # switch prediction, mean over segments
    actual_discrepancy: float       # measured light-vs-full distance, mean over segments
    switch_abs_error: float         # mean |predicted - actual| over segments
    segments: int
    duration_s: float = 0.0                         # streamed audio (whole segments)
    switch_backs: int = 0                           # light->full transitions at the threshold
    warmup_frames: int = 0                          # masked base frames replayed (warm policy) at the threshold
    warmup_frames_light: int = 0                    # of those, replayed into the light tail
    offline_embedding_l1: float = float("nan")      # diagnostic: mean |streaming - offline mixed embedding|
    predicted_per_segment: tuple[float, ...] = ()   # [S] switch prediction
    actual_per_segment: tuple[float, ...] = ()      # [S] actual discrepancy (all-full vs all-light streaming)


@dataclass(frozen=True)
class GroupSummary:
    n_clips: int
    visqol_full: float
    visqol_light: float
    visqol_mixed: float
    light_usage: float
    sparsity: float                 # mask sparsity, mean over clips
    switch_mae: float               # mean |predicted - actual| discrepancy per segment
    transitions_per_s: float = float("nan")       # light->full switch-backs per second of audio (pooled)
    warmup_frames_per_s: float = float("nan")     # replayed base frames per second of audio (pooled)
    warmup_frames_light_per_s: float = float("nan")  # of those, replayed into the light tail
    switch_spearman: float = float("nan")         # rank correlation of predicted vs actual per segment (pooled)
    offline_embedding_l1: float = float("nan")    # diagnostic: mean |streaming - offline mixed embedding|


@dataclass(frozen=True)
class EvaluationResult:
    """``sweep``: the learned switch over thresholds; ``oracle_sweep``: the oracle router over thresholds of
    the actual discrepancy (its bound); both streamed under ``state_policy``."""

    threshold: float
    clips: tuple[ClipEvaluation, ...]
    overall: GroupSummary
    per_class: dict[str, GroupSummary]
    sweep: tuple[SweepPoint, ...] = field(default=())
    oracle_sweep: tuple[SweepPoint, ...] = field(default=())
    execution: Execution = Execution.STREAMING
    state_policy: StatePolicy = StatePolicy.WARM

    @property
    def light_usage_per_class(self) -> dict[str, float]:
        return {label: group.light_usage for label, group in self.per_class.items()}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_codec(
    codec: DSLCodec,
    clips: Sequence[Clip],
    threshold: float | None = None,
    sweep_thresholds: Sequence[float] = (),
    scorer: VisqolScorer | None = None,
    progress: ProgressCallback | None = None,
    *,
    state_policy: StatePolicy | None = None,
    sweep_quantiles: Sequence[float] = SWEEP_QUANTILES,
    oracle: bool = True,
    full_only: bool = False,
) -> EvaluationResult:
    """Evaluate ``codec`` on ``clips`` on the streaming runtime at ``threshold`` (default: the candidate's).

    Sweep thresholds: ``sweep_thresholds`` when given, else ``sweep_quantiles`` of the predicted discrepancy
    over all clips' segments plus one above the max (``sweep_quantiles=()`` and no thresholds: no sweep).
    ``oracle``: also sweep the oracle router, on the same explicit thresholds or the same quantiles of the
    actual discrepancy. ``state_policy`` defaults to the candidate's. ``full_only`` (a base whose DSL is
    inert): only the full path is scored, no sweep, no oracle; light figures are ``nan``.
    """
    tau = codec.candidate.dsl.threshold if threshold is None else threshold
    policy = StatePolicy(codec.candidate.dsl.state_policy if state_policy is None else state_policy)
    scorer = scorer or VisqolScorer()
    evaluations = _stream_clips(codec, clips, scorer, policy, progress)
    sweep_t = () if full_only else _thresholds(evaluations, sweep_thresholds, sweep_quantiles, _predicted)
    oracle_t = _thresholds(evaluations, sweep_thresholds, sweep_quantiles, _actual) if oracle and not full_only else ()
    score_clips(evaluations, [
        [ev.full.use_light] if full_only else
        [ev.full.use_light, ev.light.use_light, ev.pattern_at(tau), *map(ev.pattern_at, sweep_t),
         *map(ev.oracle_pattern, oracle_t)]
        for ev in evaluations
    ], scorer, None if progress is None else lambda done, total: progress("visqol", done, total))
    results = [_evaluate_clip(ev, tau, full_only) for ev in evaluations]
    sweep = tuple(_sweep_point(evaluations, t, ClipStreamEvaluation.at_threshold) for t in sweep_t)
    oracle_sweep = tuple(_sweep_point(evaluations, t, ClipStreamEvaluation.oracle_at) for t in oracle_t)
    return EvaluationResult(
        tau, tuple(results), summarise(results), summarise_by_class(results), sweep, oracle_sweep,
        Execution.STREAMING, policy,
    )


def _stream_clips(codec: DSLCodec, clips: Sequence[Clip], scorer: VisqolScorer, policy: StatePolicy,
                  progress: ProgressCallback | None) -> list[ClipStreamEvaluation]:
    """Every clip streamed once (phase ``"stream"``); ``warm``: composition checked on the first clip."""
    codec.eval()
    stream = StreamingEncoder(codec.encoder)
    evaluations = []
    for i, clip in enumerate(clips):
        if progress is not None:
            progress("stream", i, len(clips))
        evaluations.append(ClipStreamEvaluation(codec, stream, scorer, clip, policy))
    if progress is not None:
        progress("stream", len(clips), len(clips))
    if evaluations and policy is StatePolicy.WARM:
        first = evaluations[0]  # a pattern with switch-backs whatever the switch predicts
        first.check_composition(torch.arange(first.base.segments) % 4 >= 2)
    return evaluations


def _predicted(ev: ClipStreamEvaluation) -> torch.Tensor:
    return ev.predicted


def _actual(ev: ClipStreamEvaluation) -> torch.Tensor:
    return ev.actual


def _thresholds(
    evaluations: list[ClipStreamEvaluation],
    explicit: Sequence[float],
    quantiles: Sequence[float],
    values: Callable[[ClipStreamEvaluation], torch.Tensor],
) -> tuple[float, ...]:
    """``explicit`` thresholds, else ``quantiles`` of the clips' pooled ``values`` ``[S]`` plus one above the max."""
    if explicit:
        return tuple(float(t) for t in explicit)
    if not evaluations:
        return ()
    return quantile_thresholds(torch.cat([values(e) for e in evaluations]), quantiles)


def _evaluate_clip(ev: ClipStreamEvaluation, tau: float, full_only: bool = False) -> ClipEvaluation:
    segments = ev.base.segments
    mixed = ev.at_pattern(ev.full.use_light) if full_only else ev.at_threshold(tau)
    return ClipEvaluation(
        clip_id=ev.clip.clip_id,
        label=ev.clip.label,
        visqol_full=ev.at_pattern(ev.full.use_light).visqol_mos,
        visqol_light=math.nan if full_only else ev.at_pattern(ev.light.use_light).visqol_mos,
        visqol_mixed=mixed.visqol_mos,
        light_usage=mixed.light_usage,
        sparsity=ev.base.mask_sparsity,
        predicted_discrepancy=ev.predicted.mean().item(),
        actual_discrepancy=ev.actual.mean().item(),
        switch_abs_error=(ev.predicted - ev.actual).abs().mean().item(),
        segments=segments,
        duration_s=ev.duration_s,
        switch_backs=mixed.switch_backs,
        warmup_frames=mixed.warmup_frames,
        warmup_frames_light=mixed.warmup_frames_light,
        offline_embedding_l1=ev.offline_l1(tau),
        predicted_per_segment=tuple(ev.predicted.tolist()),
        actual_per_segment=tuple(ev.actual.tolist()),
    )


def _sweep_point(evaluations: list[ClipStreamEvaluation], tau: float, router: Router) -> SweepPoint:
    scored = [(ev.clip.label, router(ev, tau)) for ev in evaluations]
    classes = sorted({label for label, _ in scored})

    def mean(attr: str, label: str | None = None) -> float:
        return float(np.mean([getattr(r, attr) for lab, r in scored if label in (None, lab)]))

    seconds = sum(r.duration_s for _, r in scored)
    return SweepPoint(
        threshold=float(tau),
        light_usage=mean("light_usage"),
        visqol_mixed=mean("visqol_mos"),
        light_usage_per_class={k: mean("light_usage", k) for k in classes},
        visqol_mixed_per_class={k: mean("visqol_mos", k) for k in classes},
        transitions_per_s=sum(r.switch_backs for _, r in scored) / seconds,
        warmup_frames_per_s=sum(r.warmup_frames for _, r in scored) / seconds,
        warmup_frames_light_per_s=sum(r.warmup_frames_light for _, r in scored) / seconds,
        visqol_mixed_per_clip=tuple(float(r.visqol_mos) for _, r in scored),
        light_usage_per_clip=tuple(float(r.light_usage) for _, r in scored),
    )


EQUAL_QUALITY_TOLERANCE = 0.05
"""How far below the full path's ViSQOL a mixed run may score and still count as equal quality (issue goal)."""


def most_light_at_equal_quality(
    result: EvaluationResult, tolerance: float = EQUAL_QUALITY_TOLERANCE
) -> SweepPoint | None:
    """The sweep point of the learned switch with the most light usage whose mixed ViSQOL is within
    ``tolerance`` of the full path's (the paper's operating point: as much light as quality allows);
    ``None`` when no sweep point qualifies."""
    floor = result.overall.visqol_full - tolerance
    within = [p for p in result.sweep if p.visqol_mixed >= floor]
    return max(within, key=lambda p: (p.light_usage, p.visqol_mixed), default=None)


def switch_rank_correlation(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Spearman rank correlation of predicted vs actual discrepancy per segment (paper Fig. 7).

    ``nan`` with fewer than two segments or a constant input (no ranking to correlate).
    """
    if len(predicted) < 2 or np.ptp(predicted) == 0 or np.ptp(actual) == 0:
        return float("nan")
    return float(spearmanr(predicted, actual).statistic)


def summarise(results: Sequence[ClipEvaluation]) -> GroupSummary:
    """Means over clips; rates and the rank correlation pooled over the clips' seconds and segments (``nan``
    fields for an empty group)."""
    def mean(attr: str) -> float:
        return float(np.mean([getattr(r, attr) for r in results])) if results else float("nan")

    seconds = sum(r.duration_s for r in results)
    return GroupSummary(
        n_clips=len(results),
        visqol_full=mean("visqol_full"),
        visqol_light=mean("visqol_light"),
        visqol_mixed=mean("visqol_mixed"),
        light_usage=mean("light_usage"),
        sparsity=mean("sparsity"),
        switch_mae=mean("switch_abs_error"),
        transitions_per_s=sum(r.switch_backs for r in results) / seconds if seconds else math.nan,
        warmup_frames_per_s=sum(r.warmup_frames for r in results) / seconds if seconds else math.nan,
        warmup_frames_light_per_s=sum(r.warmup_frames_light for r in results) / seconds if seconds else math.nan,
        switch_spearman=switch_rank_correlation(
            [v for r in results for v in r.predicted_per_segment], [v for r in results for v in r.actual_per_segment]
        ),
        offline_embedding_l1=mean("offline_embedding_l1"),
    )


def summarise_by_class(results: Sequence[ClipEvaluation]) -> dict[str, GroupSummary]:
    labels = sorted({r.label for r in results})
    return {label: summarise([r for r in results if r.label == label]) for label in labels}
