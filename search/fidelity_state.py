"""Where a multi-fidelity search keeps its rungs: in the study's storage, never in memory only.

* Every rung result is a trained trial (its sweep points trials of their own, as any trained trial) whose user
  attribute :data:`ATTR_FIDELITY` names its bracket, rung and lineage (the trial number of the candidate's first
  rung), and whose record carries ``fidelity_steps`` below the last rung (``TrialRecord.low_fidelity``).
* Each bracket's membership and decisions are a study attribute (``dslnas.fidelity.bracket-<b>``): the first
  rung's lineages and their params, then per decided rung its Pareto order and the lineages it promoted.
* A rung result that is missing is run again; a trial left RUNNING by a killed driver is failed and marked an
  orphan (its lineage's result is then a trial added later). So a killed worker loses no rung and repeats no
  decision: rerunning the same command continues the bracket where it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.config import SearchConfig
from dslnas.search.fidelity import Curve, RungCorrelation
from dslnas.search.dominance import minimised
from dslnas.search.records import fail_attrs, parent_of, record_from_trial, role_of
from dslnas.spaces.errors import UserError

ATTR_FIDELITY = "dslnas.fidelity"          # trial: {"bracket": b, "rung": r, "lineage": n}
ATTR_ORPHAN = "dslnas.fidelity_orphan"     # trial: failed because its driver stopped (its rung reruns it)
BRACKET_PREFIX = "dslnas.fidelity.bracket-"
STUDY_ATTR_CORRELATION = "dslnas.fidelity.rank_correlation"
STUDY_ATTR_SCHEDULE = "dslnas.fidelity.schedule"  # the FidelityConfig the brackets were made with


@dataclass(frozen=True)
class Bracket:
    """One bracket's membership and decisions, as stored on the study."""

    number: int
    members: tuple[int, ...]                       # the first rung's lineages
    params: dict[int, dict[str, Any]]              # lineage -> its sampled params
    orders: tuple[tuple[int, ...], ...] = ()       # per decided rung: its results, best first
    promoted: tuple[tuple[int, ...], ...] = ()     # per decided rung: the lineages sent to the next rung

    def members_at(self, rung: int) -> tuple[int, ...]:
        return self.members if rung == 0 else self.promoted[rung - 1]

    def decided(self, order: list[int], promoted: list[int]) -> "Bracket":
        return replace(self, orders=(*self.orders, tuple(order)), promoted=(*self.promoted, tuple(promoted)))

    def to_json(self) -> dict[str, Any]:
        return {"members": list(self.members), "params": {str(k): v for k, v in self.params.items()},
                "orders": [list(o) for o in self.orders], "promoted": [list(p) for p in self.promoted]}

    @staticmethod
    def from_json(number: int, data: dict[str, Any]) -> "Bracket":
        return Bracket(number, tuple(data["members"]), {int(k): dict(v) for k, v in data["params"].items()},
                       tuple(tuple(o) for o in data["orders"]), tuple(tuple(p) for p in data["promoted"]))


def claim_schedule(study: optuna.Study, config: SearchConfig) -> None:
    """Record the study's fidelity schedule; a study whose brackets used another one is a UserError."""
    assert config.fidelity is not None
    mine = config.fidelity.model_dump(mode="json")
    stored = study.user_attrs.get(STUDY_ATTR_SCHEDULE)
    if stored is None:
        study.set_user_attr(STUDY_ATTR_SCHEDULE, mine)
    elif stored != mine:
        raise UserError(f"study {study.study_name!r} runs brackets with fidelity {stored}; pass the same "
                        "--rungs/--eta/--bracket-size or pick another --study")


def save_bracket(study: optuna.Study, bracket: Bracket) -> None:
    study.set_user_attr(f"{BRACKET_PREFIX}{bracket.number}", bracket.to_json())


def stored_brackets(study: optuna.Study) -> list[Bracket]:
    """Every bracket the study holds, in order."""
    attrs = study.user_attrs
    found = [int(k[len(BRACKET_PREFIX):]) for k in attrs if k.startswith(BRACKET_PREFIX)]
    return [Bracket.from_json(b, attrs[f"{BRACKET_PREFIX}{b}"]) for b in sorted(found)]


def fidelity_attrs(bracket: int, rung: int, lineage: int) -> dict[str, Any]:
    return {ATTR_FIDELITY: {"bracket": bracket, "rung": rung, "lineage": lineage}}


def rung_of(trial: optuna.trial.FrozenTrial) -> tuple[int, int, int] | None:
    """(bracket, rung, lineage) of a rung result; None for a trial outside the multi-fidelity brackets."""
    data = trial.user_attrs.get(ATTR_FIDELITY)
    return None if data is None else (int(data["bracket"]), int(data["rung"]), int(data["lineage"]))


def rung_results(study: optuna.Study, bracket: int, rung: int) -> dict[int, optuna.trial.FrozenTrial]:
    """Lineage -> its finished result (COMPLETE, or FAIL other than an orphan) at ``bracket``'s ``rung``."""
    out = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        where = rung_of(t)
        if where and where[:2] == (bracket, rung) and role_of(t).trained and not t.user_attrs.get(ATTR_ORPHAN):
            out[where[2]] = t
    return out


def fail_orphans(study: optuna.Study) -> list[int]:
    """Fail the RUNNING trials a killed driver left (one driver per multi-fidelity study); -> their numbers."""
    storage = study._storage  # noqa: SLF001 - a Study exposes no public storage
    orphans = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in orphans:
        for key, value in {**fail_attrs("driver stopped mid-rung; the rung reruns this candidate"),
                           ATTR_ORPHAN: True}.items():
            storage.set_trial_user_attr(t._trial_id, key, value)  # noqa: SLF001
        storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)  # noqa: SLF001
    return [t.number for t in orphans]


def full_fidelity_trained(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """COMPLETE trained trials whose model had the whole fine-tune (what ``config.trials`` counts)."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if role_of(t).trained and not _low(t)]


def _low(trial: optuna.trial.FrozenTrial) -> bool:
    record = record_from_trial(trial)
    return record is not None and record.low_fidelity


def curve_of(study: optuna.Study, config: SearchConfig, trial: optuna.trial.FrozenTrial, key: int) -> Curve:
    """A rung result's curve: its own and its sweep points' objective values (minimised), feasible ones only."""
    objectives = config.space.objectives
    points = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
              if t.number == trial.number or parent_of(t) == trial.number]
    feasible = [t for t in points if all(c <= 0 for c in t.constraints.values())]
    return Curve(key, tuple(minimised(t.values, objectives) for t in feasible))


def finalist_curves(study: optuna.Study, config: SearchConfig) -> list[list[Curve]]:
    """Per rung: the curves of the lineages with a completed last-rung result, over every bracket."""
    rungs = len(config.fidelity.rungs_steps) if config.fidelity else 0
    by_rung: list[list[Curve]] = [[] for _ in range(rungs)]
    for bracket in stored_brackets(study):
        final = {k: t for k, t in rung_results(study, bracket.number, rungs - 1).items() if t.state == TrialState.COMPLETE}
        for rung in range(rungs):
            results = rung_results(study, bracket.number, rung)
            by_rung[rung] += [curve_of(study, config, results[k], k) for k in final if k in results]
    return by_rung


def store_correlations(study: optuna.Study, rows: tuple[RungCorrelation, ...]) -> None:
    study.set_user_attr(STUDY_ATTR_CORRELATION, [
        {"rung": r.rung, "steps": r.steps, "candidates": r.candidates,
         "spearman": None if math.isnan(r.spearman) else r.spearman} for r in rows])


def stored_correlations(study: optuna.Study) -> tuple[RungCorrelation, ...]:
    """The rank correlation per rung the last multi-fidelity run stored (empty for other studies)."""
    rows = study.user_attrs.get(STUDY_ATTR_CORRELATION) or []
    return tuple(RungCorrelation(r["rung"], r["steps"], r["candidates"],
                                 float("nan") if r["spearman"] is None else r["spearman"]) for r in rows)
