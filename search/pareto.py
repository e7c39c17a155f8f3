"""The Pareto front of a study, computed once as a typed value that every report renderer reads.

Dominance is taken in the objectives the study names (directions from :class:`Objective`), among the
feasible trials only (feasible: every stored constraint value <= 0). A point is on the front when it is
feasible and no feasible point dominates it.

Recommendations, for a product team:

* per latency budget of the search space (``latency_budgets_ms``): the feasible point of best mixed-pass
  quality whose predicted latency is within the budget (ties: the lower latency);
* the knee: the front point nearest the ideal point (best value of every objective) once each objective
  is scaled to 0..1 over the front.

Every point is one (trained candidate, threshold) pair: a trained trial carries its own point and its
other swept thresholds are trials of their own (role ``sweep``, naming their parent). Savings are against
the study's full-only baseline (role ``baseline``: the reference candidate's sweep point with no segment
light); a study without one compares each point with its own full path. The front's order
(:attr:`ParetoFront.pareto`) is: recommended points first, then the rest by distance to the ideal point.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.hw_models.cost import Cost
from dslnas.hw_models.counts import FRONT_PARTS, Part
from dslnas.search.config import SearchConfig
from dslnas.search.dominance import dominates, minimised
from dslnas.search.records import (
    STUDY_ATTR_CONFIG, ConfirmationEntry, Role, TrialRecord, fail_reason, parent_of, record_from_trial, role_of,
    stored_confirmations,
)
from dslnas.spaces.errors import UserError
from dslnas.spaces.space import Objective


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


class RecommendationKind(str, enum.Enum):
    BUDGET = "budget"
    KNEE = "knee"


@dataclass(frozen=True)
class Recommendation:
    """A point to pick. ``point`` is None when no feasible point meets the budget."""

    kind: RecommendationKind
    budget_ms: float | None
    point: FrontPoint | None

    @property
    def title(self) -> str:
        if self.kind is RecommendationKind.KNEE:
            return "Knee of the front (best balance)"
        return f"Best quality within {self.budget_ms:g} ms"


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
    knee: FrontPoint | None
    recommendations: tuple[Recommendation, ...]

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


def compute_pareto_front(study: optuna.Study) -> ParetoFront:
    """Flag every completed trial (feasible, dominated), pick the front, its knee and the recommendations."""
    config = search_config_of(study)
    objectives = config.space.objectives
    trials = study.get_trials(deepcopy=False)
    records = {t.number: r for t in trials if t.state == TrialState.COMPLETE and (r := record_from_trial(t)) is not None}
    baseline = next(((t.number, records[t.number]) for t in trials if t.number in records and role_of(t) is Role.BASELINE), None)
    confirmed = study.user_attrs
    raw = [_point(t, records[t.number], config, baseline, confirmed) for t in trials if t.number in records]
    unfinished = [_unfinished(t) for t in trials if t.number not in records]
    points = _flag_dominated(raw, objectives)
    front = [p for p in points if p.on_front]
    knee = _knee(front, objectives)
    budgets = tuple(sorted(config.space.latency_budgets_ms))
    recommendations = _recommendations(points, budgets, knee)
    return ParetoFront(
        study.study_name, objectives, budgets, config.profile, tuple(config.space.columns(config.space.base)),
        tuple(points), tuple(unfinished),
        _ranked(front, recommendations, objectives), knee, recommendations,
    )


def _point(trial: optuna.trial.FrozenTrial, record: TrialRecord, config: SearchConfig,
           baseline: tuple[int, TrialRecord] | None, study_attrs: dict[str, Any]) -> FrontPoint:
    return FrontPoint(
        trial.number, tuple(record.objective_value(o) for o in config.space.objectives), dict(trial.constraints),
        False, role_of(trial), dict(trial.params), record, savings(record, baseline),
        config.space.columns(record.candidate), parent_of(trial), stored_confirmations(study_attrs, trial.number),
    )


def _unfinished(trial: optuna.trial.FrozenTrial) -> UnfinishedTrial:
    default = {
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


def _ideal_distance(front: Sequence[FrontPoint], objectives: Sequence[Objective]) -> dict[int, float]:
    """Each front point's Euclidean distance to the ideal point, objectives scaled to 0..1 over the front."""
    values = {p.number: minimised(p.values, objectives) for p in front}
    lows = [min(v[i] for v in values.values()) for i in range(len(objectives))]
    highs = [max(v[i] for v in values.values()) for i in range(len(objectives))]
    spans = [(h - lo) or 1.0 for lo, h in zip(lows, highs)]
    return {n: math.dist([(x - lo) / s for x, lo, s in zip(v, lows, spans)], [0.0] * len(v)) for n, v in values.items()}


def _knee(front: Sequence[FrontPoint], objectives: Sequence[Objective]) -> FrontPoint | None:
    if not front:
        return None
    distance = _ideal_distance(front, objectives)
    return min(front, key=lambda p: (distance[p.number], p.number))


def _ranked(front: Sequence[FrontPoint], recs: Sequence[Recommendation], objectives: Sequence[Objective]) -> tuple[FrontPoint, ...]:
    first = list(dict.fromkeys(r.point.number for r in recs if r.point is not None and r.point.on_front))
    distance = _ideal_distance(front, objectives) if front else {}
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


def _recommendations(points: Sequence[FrontPoint], budgets: Sequence[float], knee: FrontPoint | None) -> tuple[Recommendation, ...]:
    recs = []
    for budget in budgets:
        fits = [p for p in points if p.feasible and p.record.latency_ms <= budget]
        best = max(fits, key=lambda p: (p.record.visqol_mixed, -p.record.latency_ms), default=None)
        recs.append(Recommendation(RecommendationKind.BUDGET, budget, best))
    if knee is not None:
        recs.append(Recommendation(RecommendationKind.KNEE, None, knee))
    return tuple(recs)
