"""Driving a multi-fidelity search: brackets of Pareto successive halving, whichever backend runs the jobs.

One driver per study (the process that ran ``dslnas search``) samples candidates with the study's sampler
(``study.ask``), writes every rung result into the study (``search.fidelity_state``: the bracket's
membership and decisions are study attributes, each result a trained trial marked with its rung and
fidelity) and decides promotions by non-dominated sorting (``search.fidelity``). The training itself is a
:class:`RungJob` handed to a :class:`JobRunner`: local processes for the Optuna backend, Ray tasks for the
Ray backend. ``config.trials`` counts fully fine-tuned candidates; brackets are started until the study
holds that many (a bracket once started is finished). At the end the rank correlation per rung is computed
over every finalist, stored on the study and returned.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.trial import TrialState, create_trial

from dslnas.search.artifacts import (
    _download, claim_study_store, default_cache_dir, link_attrs, open_artifact_store, write_checkpoint,
)
from dslnas.search.backends.base import ProgressCallback
from dslnas.search.config import SearchConfig
from dslnas.search.fidelity import RungCorrelation, pareto_order, promote, rank_correlations
from dslnas.search.fidelity_state import (
    Bracket, claim_schedule, curve_of, fail_orphans, fidelity_attrs, finalist_curves, full_fidelity_trained, rung_results,
    save_bracket, store_correlations, stored_brackets,
)
from dslnas.search.points import CandidatePoints, constraint_values
from dslnas.search.records import Role, fail_attrs, record_attrs, record_from_trial, role_attrs, role_of
from dslnas.search.study import add_sweep_trials, open_study
from dslnas.search.trial import TrialRunner


@dataclass(frozen=True)
class RungJob:
    """Train ``params``'s candidate to ``steps`` fine-tune steps (from ``start_from``, the previous rung's
    checkpoint, or its artifact id ``start_artifact`` where the file is not on the job's host) and evaluate it."""

    lineage: int
    params: dict[str, Any]
    steps: int
    trial_key: str
    start_from: str | None = None
    start_artifact: str | None = None


Outcome = CandidatePoints | str  # the points (checkpoint uploaded), or why the job failed


class JobRunner(Protocol):
    def run(self, jobs: Sequence[RungJob]) -> Iterator[tuple[RungJob, Outcome]]:
        """Run ``jobs`` (in any order, any parallelism); yield each with its outcome as it finishes."""


def run_job(config: SearchConfig, base_checkpoint: Path, job: RungJob, runner: TrialRunner | None = None) -> CandidatePoints:
    """One job on this host: train and evaluate, then upload the checkpoint to the study's artifact store."""
    runner = runner or TrialRunner(config, base_checkpoint)
    start = None
    if job.start_from is not None:
        start = Path(job.start_from)
        if not start.is_file() and job.start_artifact:
            start = _download(config.artifact_location, job.start_artifact, default_cache_dir())
    points = runner.run(config.space.candidate_from_params(job.params), job.trial_key, job.steps, start)
    return write_checkpoint(open_artifact_store(config.artifact_location), points)


def failure_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def run_fidelity(config: SearchConfig, base_checkpoint: Path, jobs: JobRunner,
                 on_progress: ProgressCallback | None = None) -> tuple[RungCorrelation, ...]:
    """Run brackets until the study holds ``config.trials`` fully fine-tuned candidates; -> rank correlations."""
    assert config.fidelity is not None
    study = open_study(config)
    open_artifact_store(config.artifact_location)
    claim_study_store(study, config.artifact_location)
    claim_schedule(study, config)
    fail_orphans(study)
    driver = _Driver(study, config, jobs, on_progress)
    driver.run_queued()
    for bracket in driver.open_brackets():
        driver.run_bracket(bracket)
    rows = rank_correlations(finalist_curves(study, config), config.fidelity.rungs_steps)
    store_correlations(study, rows)
    return rows


class _Driver:
    def __init__(self, study: optuna.Study, config: SearchConfig, jobs: JobRunner, on_progress: ProgressCallback | None):
        self.study, self.config, self.jobs, self.on_progress = study, config, jobs, on_progress
        self.fidelity = config.fidelity
        self.asked: dict[int, optuna.Trial] = {}  # this driver's RUNNING first-rung trials, by lineage

    def run_queued(self) -> None:
        """The reference (queued at creation, or now when the study has none) and queued retries, fully trained."""
        trials = self.study.get_trials(deepcopy=False)
        if not any(role_of(t) is Role.REFERENCE and t.state in (TrialState.COMPLETE, TrialState.WAITING) for t in trials):
            self.study.enqueue_trial(self.config.space.reference_point(), user_attrs=role_attrs(Role.REFERENCE))
        while self.study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            trial = self.study.ask()
            self.config.space.suggest(trial)
            job = RungJob(trial.number, dict(trial.params), self.fidelity.full_steps, f"{trial.number:05d}")
            for _, outcome in self.jobs.run([job]):
                self._store(trial, job, outcome, {})

    def open_brackets(self) -> Iterator[Bracket]:
        """Unfinished stored brackets first, then new ones while the study lacks fully trained candidates."""
        missing = self.config.trials - len(full_fidelity_trained(self.study))
        allowed = math.ceil(max(0, missing) / self.fidelity.finalists_per_bracket) + 1  # all-failing brackets end
        while True:
            brackets = stored_brackets(self.study)
            bracket = next((b for b in brackets if not self._finished(b)), None)
            if bracket is None:
                if len(full_fidelity_trained(self.study)) >= self.config.trials or allowed <= 0:
                    return
                allowed -= 1
                bracket = self._new_bracket(len(brackets))
            yield bracket

    def _finished(self, bracket: Bracket) -> bool:
        last = len(self.fidelity.rungs_steps) - 1
        return len(bracket.promoted) == last and set(bracket.members_at(last)) <= set(rung_results(self.study, bracket.number, last))

    def _new_bracket(self, number: int) -> Bracket:
        params = {}
        for _ in range(self.fidelity.candidates_per_bracket):
            trial = self.study.ask()
            self.config.space.suggest(trial)
            for key, value in {**role_attrs(Role.SEARCH), **fidelity_attrs(number, 0, trial.number)}.items():
                trial.set_user_attr(key, value)
            self.asked[trial.number] = trial
            params[trial.number] = dict(trial.params)
        bracket = Bracket(number, tuple(params), params)
        save_bracket(self.study, bracket)
        return bracket

    def run_bracket(self, bracket: Bracket) -> None:
        """Each rung not yet decided: run its missing results, then promote by non-dominated sorting."""
        last = len(self.fidelity.rungs_steps) - 1
        for rung in range(len(bracket.promoted), last + 1):
            done = rung_results(self.study, bracket.number, rung)
            todo = [self._job(bracket, rung, m) for m in bracket.members_at(rung) if m not in done]
            for job, outcome in self.jobs.run(todo):
                self._store(self.asked.pop(job.lineage, None) if rung == 0 else None, job, outcome,
                            fidelity_attrs(bracket.number, rung, job.lineage))
            if rung == last:
                return
            results = {k: t for k, t in rung_results(self.study, bracket.number, rung).items() if t.state == TrialState.COMPLETE}
            curves = [curve_of(self.study, self.config, t, k) for k, t in sorted(results.items())]
            bracket = bracket.decided(pareto_order(curves), promote(curves, self.fidelity))
            save_bracket(self.study, bracket)

    def _job(self, bracket: Bracket, rung: int, lineage: int) -> RungJob:
        steps, key = self.fidelity.rungs_steps[rung], f"{lineage:05d}-r{rung}"
        if rung == 0:
            return RungJob(lineage, bracket.params[lineage], steps, key)
        before = record_from_trial(rung_results(self.study, bracket.number, rung - 1)[lineage])
        assert before is not None  # promoted lineages completed the rung before
        return RungJob(lineage, bracket.params[lineage], steps, key, before.checkpoint, before.checkpoint_artifact)

    def _store(self, trial: optuna.Trial | None, job: RungJob, outcome: Outcome, attrs: dict[str, Any]) -> None:
        role = role_of(trial) if trial is not None and not attrs else Role.SEARCH  # queued: its own role
        attrs = {**role_attrs(role), **attrs}
        if isinstance(outcome, str):
            _store_failure(self.study, self.config, trial, job, outcome, attrs)
        else:
            store_points(self.study, self.config, trial, job.params, outcome, attrs, role)
        if self.on_progress is not None:
            self.on_progress()


def store_points(study: optuna.Study, config: SearchConfig, trial: optuna.Trial | None, params: dict[str, Any],
                 points: CandidatePoints, attrs: dict[str, Any], role: Role) -> None:
    """A finished job as a trained trial (``trial`` told, else one added) plus its sweep points."""
    record = points.own_point
    values = [record.objective_value(o) for o in config.space.objectives]
    links = link_attrs(record.checkpoint_artifact, record.checkpoint) if record.checkpoint_artifact else {}
    constraints = constraint_values(record, config.space.constraints)
    user_attrs = {**attrs, **record_attrs(record)}
    if trial is None:
        dists = {k: v for k, v in config.space.optuna_distributions().items() if k in params}
        study.add_trial(create_trial(params=params, distributions=dists, values=values, user_attrs=user_attrs,
                                     constraints=constraints, system_attrs=links))
        number = study.get_trials(deepcopy=False)[-1].number  # one driver writes this study
    else:
        for key, value in user_attrs.items():
            trial.set_user_attr(key, value)
        for name, value in constraints.items():
            trial.set_constraint(name, value)
        for key, value in links.items():
            study._storage.set_trial_system_attr(trial._trial_id, key, value)  # noqa: SLF001 - no public setter
        number = trial.number
    add_sweep_trials(study, config, number, params, points, role)
    if trial is not None:
        study.tell(trial, values)


def _store_failure(study: optuna.Study, config: SearchConfig, trial: optuna.Trial | None, job: RungJob, reason: str,
                   attrs: dict[str, Any]) -> None:
    if trial is None:
        dists = {k: v for k, v in config.space.optuna_distributions().items() if k in job.params}
        study.add_trial(create_trial(state=TrialState.FAIL, params=job.params, distributions=dists,
                                     user_attrs={**attrs, **fail_attrs(reason)}))
        return
    for key, value in {**attrs, **fail_attrs(reason)}.items():
        trial.set_user_attr(key, value)
    study.tell(trial, state=TrialState.FAIL)


class LocalJobs:
    """Jobs on this host: in this process (``config.workers`` 1), else in that many spawned processes, each
    with its share of the host's cores."""

    def __init__(self, config: SearchConfig, base_checkpoint: Path) -> None:
        self.config, self.base_checkpoint = config, base_checkpoint
        self._runner: TrialRunner | None = None

    def run(self, jobs: Sequence[RungJob]) -> Iterator[tuple[RungJob, Outcome]]:
        if self.config.workers == 1 or len(jobs) <= 1:
            self._runner = self._runner or TrialRunner(self.config, self.base_checkpoint)
            for job in jobs:
                try:
                    yield job, run_job(self.config, self.base_checkpoint, job, self._runner)
                except Exception as err:  # recorded as the trial's failure; the search goes on
                    yield job, failure_text(err)
            return
        yield from self._in_processes(jobs)

    def _in_processes(self, jobs: Sequence[RungJob]) -> Iterator[tuple[RungJob, Outcome]]:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        workers = min(self.config.workers, len(jobs))
        threads = self.config.threads_per_worker(workers)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_job_in_process, self.config.model_dump_json(), str(self.base_checkpoint), job, threads): job
                       for job in jobs}
            for future in as_completed(futures):
                error = future.exception()
                yield futures[future], failure_text(error) if error is not None else future.result()


def _job_in_process(config_json: str, base_checkpoint: str, job: RungJob, threads: int) -> CandidatePoints:
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(threads)
    return run_job(SearchConfig.model_validate_json(config_json), Path(base_checkpoint), job)
