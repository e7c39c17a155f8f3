"""Figures derived from a study for its report: hypervolume history, parameter importance, rank agreement.

Hypervolume is measured with every objective scaled to 0..1 over the feasible trials (0 = best value
seen) and the reference point at 1.1 in every scaled objective, so it is unitless and comparable between
trials of one study (not between studies). Computed exactly by slicing (fine for the tens to hundreds of
non-dominated points a study holds).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from dslnas.search.records import summarise_confirmations
from dslnas.search.dominance import dominates, minimised
from dslnas.search.pareto import FrontPoint, ParetoFront

REFERENCE_SCALED = 1.1
MIN_TRIALS_FOR_IMPORTANCE = 5


@dataclass(frozen=True)
class HypervolumeStep:
    """Hypervolume of the feasible trials numbered up to ``trial_number`` (scaled objectives, unitless)."""

    trial_number: int
    hypervolume: float


def hypervolume_history(front: ParetoFront) -> tuple[HypervolumeStep, ...]:
    """One step per completed trial, in trial order; empty when no trial is feasible."""
    feasible = [p for p in front.points if p.feasible]
    if not feasible:
        return ()
    scaled = scaled_objectives({p.number: minimised(p.values, front.objectives) for p in feasible})
    steps, seen = [], []
    for point in sorted(front.points, key=lambda p: p.number):
        if point.number in scaled:
            seen.append(scaled[point.number])
            seen = [v for v in seen if not any(dominates(o, v) for o in seen)]
        steps.append(HypervolumeStep(point.number, hypervolume(seen, [REFERENCE_SCALED] * len(front.objectives))))
    return tuple(steps)


def scaled_objectives(values: dict[int, tuple[float, ...]]) -> dict[int, tuple[float, ...]]:
    """Each objective scaled 0..1 over ``values`` (a constant one: span 1), so hypervolumes compare."""
    dims = len(next(iter(values.values())))
    lows = [min(v[i] for v in values.values()) for i in range(dims)]
    spans = [(max(v[i] for v in values.values()) - lows[i]) or 1.0 for i in range(dims)]
    return {n: tuple((x - lo) / s for x, lo, s in zip(v, lows, spans)) for n, v in values.items()}


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` (minimised) and bounded by ``reference``; exact, by slicing dim 0."""
    inside = sorted(tuple(p) for p in points if all(x < r for x, r in zip(p, reference)))
    if not inside:
        return 0.0
    if len(reference) == 1:
        return reference[0] - inside[0][0]
    volume = 0.0
    for i, point in enumerate(inside):
        upper = inside[i + 1][0] if i + 1 < len(inside) else reference[0]
        if upper > point[0]:
            volume += (upper - point[0]) * hypervolume([p[1:] for p in inside[: i + 1]], reference[1:])
    return volume


@dataclass(frozen=True)
class ImportanceResult:
    """PED-ANOVA importance per objective name (``{param: share}``), or ``note`` saying why there is none."""

    by_objective: dict[str, dict[str, float]]
    note: str | None


def param_importances(study: optuna.Study, front: ParetoFront) -> ImportanceResult:
    """Each knob's importance for each objective over the completed trials with a record.

    Optuna's PED-ANOVA evaluator (numpy only; it handles the conditional ``light_width_<i>`` knobs): how
    much each knob's distribution among the best trials of that objective differs from all trials.
    """
    numbers = {p.number for p in front.points}
    if len(numbers) < MIN_TRIALS_FOR_IMPORTANCE:
        return ImportanceResult({}, f"needs at least {MIN_TRIALS_FOR_IMPORTANCE} completed trials; the study has {len(numbers)}")
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.number in numbers]
    view = optuna.create_study(directions=[o.direction for o in front.objectives])  # in memory, record trials only
    view.add_trials(trials)
    result: dict[str, dict[str, float]] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, objective in enumerate(front.objectives):
            result[objective.value] = optuna.importance.get_param_importances(
                view, evaluator=optuna.importance.PedAnovaImportanceEvaluator(),
                target=lambda t, i=i: minimised(t.values, front.objectives)[i],
            )
    equal = [str(w.message) for w in caught if "importances will be equal" in str(w.message)]
    if equal:
        return ImportanceResult({}, f"Optuna could not tell the knobs apart: {equal[0]}")
    return ImportanceResult(result, None)


@dataclass(frozen=True)
class RankAgreement:
    """How well predicted latency orders the confirmed candidates like the measurements do, per path/device.

    ``kendall_tau``: 1 = same order, -1 = reversed, over the pairs whose predictions differ; None when no
    pair does (one candidate, or predictions that tie).
    """

    path: str
    runner: str
    device: str
    candidates: int
    kendall_tau: float | None


def rank_agreement(points: Sequence[FrontPoint]) -> tuple[RankAgreement, ...]:
    """Kendall's tau between predicted and measured latency over the points confirmed on the same device."""
    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for point in points:
        for summary in summarise_confirmations(point.confirmations):
            if summary.measured_latency_ms is not None:
                key = (summary.path, summary.runner, summary.device)
                groups.setdefault(key, []).append((summary.predicted_latency_ms, summary.measured_latency_ms))
    return tuple(RankAgreement(*key, len(pairs), _kendall_tau(pairs)) for key, pairs in groups.items())


def _kendall_tau(pairs: Sequence[tuple[float, float]]) -> float | None:
    score, count = 0, 0
    for i, (p1, m1) in enumerate(pairs):
        for p2, m2 in pairs[i + 1:]:
            if p1 == p2:
                continue
            sign = (p1 - p2) * (m1 - m2)
            score += (sign > 0) - (sign < 0)
            count += 1
    return score / count if count else None
