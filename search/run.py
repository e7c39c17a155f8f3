"""``run_search``: the main job, as a Python API a cluster job can import.

Opens (or resumes) the study (its creator queues the reference and baseline points), trains the base codec once, then
hands the remaining trial budget to the chosen backend. Progress is reported through callbacks so the
CLI can draw it and a script can ignore it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from dslnas.search.backends import get_backend
from dslnas.search.base_codec import ensure_base_codec
from dslnas.search.config import SearchConfig
from dslnas.search.fidelity_state import stored_correlations
from dslnas.search.preflight import preflight
from dslnas.search.dominance import dominates
from dslnas.search.fidelity import RungCorrelation
from dslnas.search.records import record_from_trial, role_of
from dslnas.search.study import open_or_create_study


@dataclass(frozen=True)
class SearchStatus:
    """A snapshot of a study: counts by state, the front size and its best-quality point."""

    study: str
    complete: int
    failed: int
    running: int
    target: int
    front_size: int
    best: dict[str, float] | None   # objective name -> value of the front point with the best first objective

    @staticmethod
    def of(study: optuna.Study, target: int) -> "SearchStatus":
        """Counts of trained trials (``complete``: fully fine-tuned ones; a multi-fidelity rung's are not) and
        the front over the fully fine-tuned points."""
        full = [t for t in study.get_trials(deepcopy=False) if not _low_fidelity(t)]
        trials = [t for t in full if role_of(t).trained]
        count = lambda state: sum(t.state == state for t in trials)  # noqa: E731
        front = _front(study, full) if count(TrialState.COMPLETE) else []
        names = study.metric_names or [f"value{i}" for i in range(len(study.directions))]
        best = None
        if front:
            sign = 1 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else -1
            top = max(front, key=lambda t: sign * t.values[0])
            best = dict(zip(names, top.values))
        return SearchStatus(study.study_name, count(TrialState.COMPLETE), count(TrialState.FAIL),
                            count(TrialState.RUNNING), target, len(front), best)


def _low_fidelity(trial: optuna.trial.FrozenTrial) -> bool:
    record = record_from_trial(trial) if trial.state == TrialState.COMPLETE else None
    return record is not None and record.low_fidelity


def _front(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The non-dominated feasible COMPLETE ``trials`` (Optuna's ``best_trials`` over these trials only)."""
    signs = [-1.0 if d == optuna.study.StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
    done = [t for t in trials if t.state == TrialState.COMPLETE and all(c <= 0 for c in t.constraints.values())]
    values = {t.number: [s * v for s, v in zip(signs, t.values)] for t in done}
    return [t for t in done if not any(dominates(values[o.number], values[t.number]) for o in done)]


@dataclass(frozen=True)
class SearchOutcome:
    """What one ``run_search`` call did: the study's status before and after, and for a multi-fidelity
    search the rank correlation per rung of low- against full-fidelity order (``search.fidelity``)."""

    before: SearchStatus
    after: SearchStatus
    rank_correlation: tuple[RungCorrelation, ...] = ()

    @property
    def completed_now(self) -> int:
        return self.after.complete - self.before.complete

    @property
    def failed_now(self) -> int:
        return self.after.failed - self.before.failed

    @property
    def all_failed(self) -> bool:
        """Every trial this run attempted failed (a bug or bad input, not bad luck): the CLI exits non-zero."""
        return self.failed_now > 0 and self.completed_now == 0


StatusCallback = Callable[[SearchStatus], None]
StepCallback = Callable[[int, int, dict[str, float]], None]


def run_search(
    config: SearchConfig,
    on_status: StatusCallback | None = None,
    on_base_step: StepCallback | None = None,
) -> SearchOutcome:
    """Run (or continue) the study until it holds ``config.trials`` completed trained trials.

    Everything the run will need (profile, data, knob ranges, storage, runs folder) is checked first
    (``search.preflight``), so a mistake costs no training."""
    preflight(config)
    study, created = open_or_create_study(config)
    before = SearchStatus.of(study, config.trials)
    remaining = config.trials - before.complete
    if remaining > 0:
        try:
            base_checkpoint = ensure_base_codec(config, on_step=on_base_step)

            def report(*_: object) -> None:
                if on_status is not None:
                    on_status(SearchStatus.of(study, config.trials))

            report()
            # Each failed attempt costs one of the worker's tries: allow some retries, never loop forever.
            get_backend(config.backend).run(config, base_checkpoint, remaining + 2 * config.workers, on_progress=report)
        except BaseException:
            if created:
                _delete_if_nothing_finished(study)
            raise
    correlation = stored_correlations(study) if config.fidelity is not None else ()
    return SearchOutcome(before, SearchStatus.of(study, config.trials), correlation)


def _delete_if_nothing_finished(study: optuna.Study) -> None:
    """Delete a study this run created when the run failed before any trial finished (nothing to keep):
    a failed first run leaves no empty study behind, and rerunning starts it afresh."""
    finished = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
    if not study.get_trials(deepcopy=False, states=finished):
        optuna.delete_study(study_name=study.study_name, storage=study._storage)  # noqa: SLF001 - no public storage
