"""The Pareto front of a study, computed once as a typed value that every report renderer reads.

Dominance is taken in the objectives the study names (directions from :class:`Objective`), among the
feasible trials only (feasible: every stored constraint value <= 0). A point is on the front when it is
feasible and no feasible point dominates it.

Recommendations, for a product team (``search.picks``): the best quality per latency budget of the search
space and the knee of the front, each among the points whose quality loss holds to a tolerance
(``max_visqol_loss``, judged on the bootstrap interval over clips of ``search.uncertainty``).

Every point is one (trained candidate, threshold) pair: a trained trial carries its own point and its
other swept thresholds are trials of their own (role ``sweep``, naming their parent). Savings are against
the study's full-only baseline (role ``baseline``: the reference candidate's sweep point with no segment
light); a study without one compares each point with its own full path. The front's order
(:attr:`ParetoFront.pareto`) is: recommended points first, then the rest by distance to the ideal point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.hw_models.cost import Cost
from dslnas.hw_models.counts import FRONT_PARTS, Part
from dslnas.search.config import SearchConfig
from dslnas.search.dominance import dominates, minimised
from dslnas.search.picks import Recommendation, RecommendationKind, ideal_distance, recommendations
from dslnas.search.records import (
    STUDY_ATTR_CONFIG, ConfirmationEntry, Role, TrialRecord, fail_reason, parent_of, record_from_trial, role_of,
    stored_confirmations,
)
from dslnas.spaces.errors import UserError
from dslnas.search.uncertainty import (
    PointUncertainty, QualityTolerance, given_tolerance, measured_tolerance, point_uncertainty,
)
from dslnas.spaces.space import Objective

__all__ = ["FrontPoint", "ParetoFront", "Recommendation", "RecommendationKind", "Savings", "compute_pareto_front",
           "minimised", "search_config_of", "savings"]


@dataclass(frozen=True)
class ModelSize:
    """Parameters of each pass (base + mask + switch + tail) and of each tail alone (the paper's sub-model)."""

    full_pass_params: int
    light_pass_params: int
    full_tail_params: int
    light_tail_params: int

    @staticmethod
    def of(cost: Cost) -> "ModelSize":
        params = cost.path_params
        shared = sum(params[p] for p in FRONT_PARTS)
        full, light = params[Part.FULL_TAIL], params[Part.LIGHT_TAIL]
        return ModelSize(shared + full, shared + light, full, light)


@dataclass(frozen=True)
class Savings:
    """What a point saves against full-only. Positive ``*_saved_*`` is cheaper; positive ``visqol_lost`` is worse."""

    anchor: str
    latency_saved_ms: float
    latency_saved_pct: float
    power_saved_mw: float
    power_saved_pct: float
    visqol_lost: float


@dataclass(frozen=True)
class FrontPoint:
    """One completed trial with a record. ``values``: one per objective, in ``ParetoFront.objectives`` order.

    ``dominated``: some feasible point dominates it (set for infeasible points too); ``savings``: against full-only.
    """

    number: int
    values: tuple[float, ...]
    constraints: dict[str, float]   # limit name -> excess over it (<= 0 feasible), see search.trial
    dominated: bool
    role: Role
    params: dict[str, Any]
    record: TrialRecord
    savings: Savings
    knobs: dict[str, Any]           # report column -> value, from the space's knob table
    parent: int | None = None       # sweep points: the trained trial whose model they route
    confirmations: tuple[ConfirmationEntry, ...] = ()
    uncertainty: PointUncertainty | None = None  # bootstrap intervals of the quality lost and the saving

    def holds(self, max_visqol_loss: float) -> bool:
        """Its quality loss against full-only is at most ``max_visqol_loss`` (upper end of its interval)."""
        return self.uncertainty.visqol_lost.holds(max_visqol_loss) if self.uncertainty else \
            self.savings.visqol_lost <= max_visqol_loss

    @property
    def trained_trial(self) -> int:
        """The trial that trained this point's model (itself, or its parent for a sweep point)."""
        return self.number if self.parent is None else self.parent

    @property
    def feasible(self) -> bool:
        return all(c <= 0 for c in self.constraints.values())

    @property
    def broken_constraints(self) -> dict[str, float]:
        """Constraint name -> how far it is exceeded, for the constraints this point breaks."""
        return {name: c for name, c in self.constraints.items() if c > 0}

    @property
    def on_front(self) -> bool:
        return self.feasible and not self.dominated

    @property
    def name(self) -> str:
        return self.record.candidate.name

    @property
    def size(self) -> ModelSize:
        return ModelSize.of(self.record.cost)


@dataclass(frozen=True)
class UnfinishedTrial:
    """A trial without a record: failed, running, pruned or waiting. ``reason``: why it has no result."""

    number: int
    state: str
    role: Role
    params: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class ParetoFront:
    """Everything a report shows about a study, computed by :func:`compute_pareto_front`."""

    study_name: str
    objectives: tuple[Objective, ...]
    latency_budgets_ms: tuple[float, ...]
    profile: str
    knob_columns: tuple[str, ...]   # the space's searched knobs, as report columns
    points: tuple[FrontPoint, ...]
    unfinished: tuple[UnfinishedTrial, ...]
    pareto: tuple[FrontPoint, ...]
    knee: FrontPoint | None         # the knee among the points holding to ``max_visqol_loss``
    recommendations: tuple[Recommendation, ...]
    tolerance: QualityTolerance     # the picks' quality tolerance (MOS-LQO against full-only) and its origin

    @property
    def max_visqol_loss(self) -> float:
        return self.tolerance.visqol

    @property
    def baseline(self) -> FrontPoint | None:
        return next((p for p in self.points if p.role is Role.BASELINE), None)

    @property
    def reference(self) -> FrontPoint | None:
        return next((p for p in self.points if p.role is Role.REFERENCE), None)

    @property
    def dominated(self) -> tuple[FrontPoint, ...]:
        """Feasible points some feasible point dominates."""
        return tuple(p for p in self.points if p.feasible and p.dominated)

    @property
    def infeasible(self) -> tuple[FrontPoint, ...]:
        return tuple(p for p in self.points if not p.feasible)

    @property
    def front_candidates(self) -> tuple[FrontPoint, ...]:
        """One front point per trained candidate with a point on the front (its best-ranked), front order."""
        seen: dict[int, FrontPoint] = {}
        for p in self.pareto:
            seen.setdefault(p.trained_trial, p)
        return tuple(seen.values())

    def point(self, number: int) -> FrontPoint | None:
        return next((p for p in self.points if p.number == number), None)


def search_config_of(study: optuna.Study) -> SearchConfig:
    """The SearchConfig stored on the study; a study dslnas did not create is a UserError."""
    data = study.user_attrs.get(STUDY_ATTR_CONFIG)
    if data is None:
        raise UserError(f"study {study.study_name!r} has no dslnas search config; was it made by `dslnas search`?")
    return SearchConfig.model_validate(data)


def compute_pareto_front(study: optuna.Study, max_visqol_loss: float | None = None) -> ParetoFront:
    """Flag every completed trial (feasible, dominated), pick the front, its knee and the recommendations (among
    the points losing at most ``max_visqol_loss`` ViSQOL against full-only, interval considered; None: the
    tolerance measured on the study's clips, ``search.uncertainty.measured_tolerance``)."""
    if max_visqol_loss is not None and not max_visqol_loss >= 0:
        raise UserError(f"max_visqol_loss must be >= 0 (got {max_visqol_loss})")
    config = search_config_of(study)
    objectives = config.space.objectives
    trials = study.get_trials(deepcopy=False)
    records = {t.number: r for t in trials if t.state == TrialState.COMPLETE and (r := record_from_trial(t)) is not None}
    low = {n: r.fidelity_steps for n, r in records.items() if r.low_fidelity}  # multi-fidelity rungs: never on the front
    records = {n: r for n, r in records.items() if n not in low}
    baseline = next(((t.number, records[t.number]) for t in trials if t.number in records and role_of(t) is Role.BASELINE), None)
    confirmed = study.user_attrs
    raw = [_point(t, records[t.number], config, baseline, confirmed) for t in trials if t.number in records]
    unfinished = [_unfinished(t, low.get(t.number)) for t in trials if t.number not in records]
    points = _flag_dominated(raw, objectives)
    front = [p for p in points if p.on_front]
    budgets = tuple(sorted(config.space.latency_budgets_ms))
    tolerance = given_tolerance(max_visqol_loss) if max_visqol_loss is not None else _measured(points, baseline)
    recs = recommendations(points, objectives, budgets, tolerance.visqol)
    knee = next((r.point for r in recs if r.kind is RecommendationKind.KNEE), None)
    return ParetoFront(
        study.study_name, objectives, budgets, config.profile, tuple(config.space.columns(config.space.base)),
        tuple(points), tuple(unfinished), _ranked(front, recs, objectives), knee, recs, tolerance,
    )


def _measured(points: Sequence[FrontPoint], baseline: tuple[int, TrialRecord] | None) -> QualityTolerance:
    """The tolerance measured on the points' paired loss intervals against the full-only baseline (the paper's
    figure without a baseline scored clip by clip)."""
    if baseline is None or not baseline[1].clips:
        return measured_tolerance(None, ())
    losses = [p.uncertainty.visqol_lost for p in points if p.uncertainty is not None and p.number != baseline[0]]
    return measured_tolerance(baseline[0], losses, f"the full-only baseline (trial {baseline[0]})")


def _point(trial: optuna.trial.FrozenTrial, record: TrialRecord, config: SearchConfig,
           baseline: tuple[int, TrialRecord] | None, study_attrs: dict[str, Any]) -> FrontPoint:
    saved = savings(record, baseline)
    anchor_ms = baseline[1].latency_ms if baseline is not None else record.cost.latency_ms.full
    return FrontPoint(
        trial.number, tuple(record.objective_value(o) for o in config.space.objectives), dict(trial.constraints),
        False, role_of(trial), dict(trial.params), record, saved,
        config.space.columns(record.candidate), parent_of(trial), stored_confirmations(study_attrs, trial.number),
        point_uncertainty(record, baseline[1] if baseline else None, saved.visqol_lost, anchor_ms),
    )


def _unfinished(trial: optuna.trial.FrozenTrial, fidelity_steps: int | None = None) -> UnfinishedTrial:
    default = f"low fidelity: fine-tuned {fidelity_steps} steps (a multi-fidelity rung), not fully trained" if fidelity_steps else {
        TrialState.FAIL: "failed (no reason recorded)", TrialState.RUNNING: "still running",
        TrialState.WAITING: "queued", TrialState.PRUNED: "pruned", TrialState.COMPLETE: "completed without a dslnas record",
    }[trial.state]
    return UnfinishedTrial(trial.number, trial.state.name, role_of(trial), dict(trial.params), fail_reason(trial) or default)


def _flag_dominated(points: list[FrontPoint], objectives: Sequence[Objective]) -> list[FrontPoint]:
    feasible = [minimised(p.values, objectives) for p in points if p.feasible]
    flagged = []
    for p in points:
        mine = minimised(p.values, objectives)
        flagged.append(replace(p, dominated=any(dominates(other, mine) for other in feasible)))
    return flagged


def _ranked(front: Sequence[FrontPoint], recs: Sequence[Recommendation], objectives: Sequence[Objective]) -> tuple[FrontPoint, ...]:
    first = list(dict.fromkeys(r.point.number for r in recs if r.point is not None and r.point.on_front))
    distance = ideal_distance(front, objectives) if front else {}
    rest = sorted((p for p in front if p.number not in first), key=lambda p: (distance[p.number], p.number))
    by_number = {p.number: p for p in front}
    return tuple([by_number[n] for n in first] + rest)


def savings(record: TrialRecord, baseline: tuple[int, TrialRecord] | None) -> Savings:
    """``record`` against the baseline trial (number, record), or its own full path when there is no baseline."""
    if baseline is not None:
        anchor = f"full-only baseline (trial {baseline[0]})"
        lat, pw, q = baseline[1].latency_ms, baseline[1].power_mw, baseline[1].visqol_mixed
    else:
        anchor = "the candidate's own full path"
        lat, pw, q = record.cost.latency_ms.full, record.cost.power_mw.full, record.visqol_full
    return Savings(
        anchor, lat - record.latency_ms, _pct(lat - record.latency_ms, lat), pw - record.power_mw,
        _pct(pw - record.power_mw, pw), q - record.visqol_mixed,
    )


def _pct(part: float, whole: float) -> float:
    return part / whole * 100.0 if whole else float("nan")

