"""What a multi-fidelity rung is scored on: every clip and the whole sweep, or (``low_rung_eval: scaled``) less.

A candidate's cost at a cheap rung is mostly its evaluation, not its training: streaming every evaluation
clip through the codec and scoring each swept routing pattern with ViSQOL (docs/search-efficiency.md). With
``FidelityConfig.low_rung_eval`` ``scaled``, a rung below the last scores a share of each class's
evaluation clips equal to its share of the full fine-tune's steps (evenly spaced through the class, at
least ``low_rung_min_clips``), on ``low_rung_sweep_points`` thresholds (quantiles 0..1 of the predicted
discrepancy, or that many of the space's explicit thresholds, ends included). The last rung, and every
rung with ``full`` (the default), is scored exactly as a full-fidelity search scores. A low rung's points
are marked low fidelity whatever they were scored on, so they never reach the front or ``export``; the
record's ``evaluated`` names the clips it was scored on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

from dslnas.search.fidelity_config import FidelityConfig, LowRungEval

C = TypeVar("C")  # a clip (anything with a ``label``)


def spread(items: Sequence[C], count: int) -> list[C]:
    """``count`` of ``items`` evenly spaced, first and last included (all of them when ``count`` >= their number)."""
    if count >= len(items):
        return list(items)
    if count == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def rung_clips(clips: Sequence[C], share: float, min_per_class: int) -> list[C]:
    """Per label, ``ceil(share * its clips)`` (at least ``min_per_class``) of its clips, evenly spaced; the
    chosen clips keep their order in ``clips``."""
    by_label: dict[Any, list[C]] = {}
    for clip in clips:
        by_label.setdefault(clip.label, []).append(clip)  # type: ignore[attr-defined]
    keep = {id(c) for group in by_label.values()
            for c in spread(group, max(min_per_class, math.ceil(share * len(group))))}
    return [c for c in clips if id(c) in keep]


def rung_sweep(points: int, explicit: Sequence[float]) -> dict[str, tuple[float, ...]]:
    """``evaluate_codec``'s sweep arguments for ``points`` thresholds: of the explicit ones when the space
    has them, else quantiles 0..1 of the predicted discrepancy."""
    if explicit:
        return {"sweep_thresholds": tuple(spread(sorted(explicit), points))}
    return {"sweep_thresholds": (), "sweep_quantiles": tuple(i / (points - 1) for i in range(points))}


def evaluation_plan(fidelity: FidelityConfig | None, steps: int, full_steps: int, clips: Sequence[C],
                    explicit_thresholds: Sequence[float]) -> tuple[list[C], dict[str, tuple[float, ...]]]:
    """The clips and the sweep arguments a candidate trained ``steps`` of ``full_steps`` is scored on."""
    full = {"sweep_thresholds": tuple(explicit_thresholds)}
    if fidelity is None or fidelity.low_rung_eval is LowRungEval.FULL or steps >= full_steps:
        return list(clips), full
    return (rung_clips(clips, steps / full_steps, fidelity.low_rung_min_clips),
            rung_sweep(fidelity.low_rung_sweep_points, explicit_thresholds))
