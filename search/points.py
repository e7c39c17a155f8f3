"""From one trained candidate's streaming evaluation to its front points: one record per swept threshold.

The threshold costs no training (it is read only at routing time), so each trained candidate is routed at
every threshold of its sweep on the streaming runtime (``trainers.evaluate``), and every sweep point
becomes a point of the study: scored by that run's mixed ViSQOL and priced by the cost model at that run's
routing: its light usage, switch-backs and warm replays (``hw_models.routing.RoutingSummary``, priced by the
one cost model method, ``ProfileCostModel.predict_counts``). The trained trial itself carries the point nearest
its own curve's ideal (:func:`own_point`); the others are stored as sweep trials that name it as parent
and share its checkpoint (see ``search.backends``). The sampler thereby learns from every point.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dslnas.hw_models.cost import Cost, Pricer
from dslnas.hw_models.routing import RoutingSummary
from dslnas.search.records import (
    ClipScore, EvaluatedClass, PathQuality, SweepPoint, SwitchQuality, TrialRecord, TrialTiming, VisqolRules,
)
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.run_config import LightInit
from dslnas.spaces.space import Constraints, Objective
from dslnas.trainers.oracle import compare_to_oracle

if TYPE_CHECKING:
    from dslnas.trainers.evaluate import EvaluationResult


@dataclass(frozen=True)
class CandidatePoints:
    """Every point of one trained candidate; ``points[own]`` is the trained trial's own."""

    points: tuple[TrialRecord, ...]
    own: int

    @property
    def own_point(self) -> TrialRecord:
        return self.points[self.own]

    @property
    def others(self) -> tuple[TrialRecord, ...]:
        return tuple(p for i, p in enumerate(self.points) if i != self.own)


def priced_sweep(evaluated: Sequence[SweepPoint], price: Pricer,
                 mask_sparsity: float) -> tuple[tuple[SweepPoint, ...], tuple[Cost, ...]]:
    """The sweep as a deployment runs it: each point priced under its own routing (its light usage, switch-backs
    and warm replays; the evaluation's ``mask_sparsity``), with the cost of each point."""
    points, costs = [], []
    for p in evaluated:
        routing = RoutingSummary.from_stream(p, mask_sparsity)
        cost = price(routing)
        costs.append(cost.without_counts())
        points.append(p.priced(cost.latency_ms.mixed, cost.power_mw.mixed))
    return tuple(points), tuple(costs)


def latency_of_usage(price: Pricer, mask_sparsity: float) -> Callable[[float], float]:
    """Mixed latency at a light usage with no replays: how ``trainers.oracle`` compares the learned switch with
    the oracle router at equal quality."""
    return lambda usage: price(RoutingSummary(usage, mask_sparsity)).latency_ms.mixed


def point_candidate(candidate: CandidateConfig, threshold: float) -> CandidateConfig:
    """``candidate`` at one swept threshold, named after it (``<name>-t<threshold>``)."""
    return candidate.with_dsl(threshold=max(threshold, 0.0)).model_copy(update={"name": f"{candidate.name}-t{threshold:.3g}"})


def oracle_fractions(sweep: Sequence[SweepPoint], oracle: Sequence[SweepPoint],
                     latency_ms: Callable[[float], float]) -> list[float | None]:
    """Per sweep point, the learned router's latency saving as a share of the oracle router's at equal mixed
    ViSQOL (``trainers.oracle``); None where the oracle saves nothing there, or without an oracle sweep."""
    if not oracle:
        return [None] * len(sweep)
    return [f.saving_fraction if math.isfinite(f.saving_fraction) else None
            for f in compare_to_oracle(sweep, oracle, latency_ms)]


def build_points(candidate: CandidateConfig, evaluation: "EvaluationResult", price: Pricer, checkpoint: Path,
                 timing: TrialTiming, objectives: Sequence[Objective], rules: VisqolRules | None = None,
                 evaluated_classes: dict[str, EvaluatedClass] | None = None,
                 light_start: LightInit | None = None) -> CandidatePoints:
    """One record per sweep point of ``evaluation`` (which must have a sweep), each priced by ``price`` under its
    routing, the own point chosen; ``timing``, ``rules`` (None: not counted) and ``light_start`` (None: a codec
    trained fresh) are the trained candidate's, shared by its points."""
    if not evaluation.sweep:
        raise ValueError("the evaluation has no threshold sweep: a candidate's points come from its sweep")
    overall = evaluation.overall
    sweep, costs = priced_sweep(evaluation.sweep, price, overall.sparsity)
    oracle, _ = priced_sweep(evaluation.oracle_sweep, price, overall.sparsity)
    fractions = oracle_fractions(sweep, oracle, latency_of_usage(price, overall.sparsity))
    per_class_quality = {k: (g.visqol_full, g.visqol_light) for k, g in evaluation.per_class.items()}
    records = []
    for point, cost, fraction in zip(sweep, costs, fractions):
        records.append(TrialRecord(
            candidate=point_candidate(candidate, point.threshold),
            visqol=PathQuality(overall.visqol_full, overall.visqol_light, point.visqol_mixed),
            light_usage=point.light_usage,
            light_usage_per_class=dict(point.light_usage_per_class),
            visqol_per_class={k: PathQuality(full, light, point.visqol_mixed_per_class.get(k, math.nan))
                              for k, (full, light) in per_class_quality.items()},
            sparsity=overall.sparsity,
            transitions_per_s=point.transitions_per_s,
            switch=SwitchQuality(overall.switch_spearman, overall.switch_mae, fraction),
            cost=cost,
            checkpoint=str(checkpoint),
            sweep=sweep,
            oracle_sweep=oracle,
            timing=timing,
            visqol_rules=rules,
            evaluated=dict(evaluated_classes or {}),
            light_start=light_start,
            clips=clip_scores(evaluation, point),
        ))
    for record in records:
        record.check_finite()
    return CandidatePoints(tuple(records), own_point(records, objectives))


def clip_scores(evaluation: "EvaluationResult", point: SweepPoint) -> tuple[ClipScore, ...]:
    """Each evaluated clip at ``point`` (its per-clip scores are in the evaluation's clip order); empty for a
    point evaluated without them."""
    if len(point.visqol_mixed_per_clip) != len(evaluation.clips):
        return ()
    return tuple(ClipScore(c.clip_id, c.label, c.duration_s, c.visqol_full, mixed, usage) for c, mixed, usage in
                 zip(evaluation.clips, point.visqol_mixed_per_clip, point.light_usage_per_clip))


def own_point(records: Sequence[TrialRecord], objectives: Sequence[Objective]) -> int:
    """Index of the point nearest the ideal of the candidate's own curve (objectives scaled 0..1 over it).

    A point with no segment light is never chosen while the curve has others: it is the full-only point,
    stored as a sweep trial of its own (for the reference, the study's baseline)."""
    routed = [i for i, r in enumerate(records) if r.light_usage > 0] or list(range(len(records)))
    values = [[-r.objective_value(o) if o.maximise else r.objective_value(o) for o in objectives] for r in records]
    lows = [min(v[j] for v in values) for j in range(len(objectives))]
    spans = [(max(v[j] for v in values) - lows[j]) or 1.0 for j in range(len(objectives))]
    distance = [math.dist([(x - lo) / s for x, lo, s in zip(v, lows, spans)], [0.0] * len(v)) for v in values]
    return min(routed, key=lambda i: (distance[i], i))


def constraint_values(record: TrialRecord, constraints: Constraints) -> dict[str, float]:
    """Optuna constraint values by limit name (<= 0 feasible: how far the trial is over the limit).

    Only the limits the space sets appear; a space without limits gives an empty dict.
    """
    measured = {
        "min_visqol": -record.visqol_mixed,   # the limit is a floor: compare negated values
        "max_visqol_drop": record.visqol_full - record.visqol_mixed,
        "max_latency_ms": record.latency_ms,
        "max_power_mw": record.power_mw,
        "max_ram_kib": record.cost.ram_kib.mixed,
        "max_flash_kib": record.cost.flash_kib.mixed,
        "max_real_time_factor": record.cost.real_time_factor.mixed,
    }
    limits = constraints.model_dump()
    return {
        name: (measured[name] + limits[name]) if name == "min_visqol" else measured[name] - limits[name]
        for name in measured
        if limits[name] is not None
    }
