"""Optuna backend: ``workers`` processes each run ``study.optimize`` on the shared storage.

A trial that raises (or yields a NaN or infinite objective) is recorded FAIL with its reason and the search
goes on; a worker killed mid-trial leaves a RUNNING trial that the heartbeat marks FAIL and re-queues once
(Optuna's on RDB storages, dslnas's ``storage.JournalHeartbeat`` on journal files); a live worker whose
trial was failed that way (a late beat on a busy host) drops it and goes on (``backends.taken_trials``). The trained trial's
checkpoint is uploaded to the study's artifact store, linked from the trial (``search.artifacts``).
Each worker's torch uses its share of the host's cores (``SearchConfig.threads_per_worker``).
The trained trial returns its own point's values; its other sweep points are stored as trials of their own
(``study.add_sweep_trials``). ``config.trials`` counts trained trials: a worker starts none once the
completed and running ones reach it, so workers sharing a study stop at the total exactly.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.artifacts import claim_study_store, open_artifact_store, upload_trial_checkpoint
from dslnas.search.backends.base import ProgressCallback, SearchBackend
from dslnas.search.backends.taken_trials import optimize_despite_taken_trials, prune_leftover_retries, trial_taken_as_pruned
from dslnas.search.config import SearchConfig
from dslnas.search.points import CandidatePoints, constraint_values
from dslnas.search.records import fail_attrs, record_attrs, role_of
from dslnas.search.storage import ATTR_STARTED, JournalHeartbeat, fail_stale_journal_trials, needs_dslnas_heartbeat
from dslnas.search.study import add_sweep_trials, open_study, trained_trials
from dslnas.search.trial import TrialRunner
from dslnas.spaces.errors import UserError


def make_objective(config: SearchConfig, runner: TrialRunner, store: Any = None) -> Callable[[optuna.Trial], list[float]]:
    """The Optuna objective: sample, run, upload the checkpoint to ``store``, store the record, return the values."""
    def objective(trial: optuna.Trial) -> list[float]:
        with trial_taken_as_pruned(trial), _heartbeat(trial, config):  # beats while it waits: alive, not stale
            if _wait_while_others_finish_the_total(trial.study, config, trial.number):
                trial.study.stop()
                for key, value in fail_attrs(f"not run: the study holds or is running its {config.trials} trials").items():
                    trial.set_user_attr(key, value)
                raise optuna.TrialPruned()
            candidate = config.space.suggest(trial)
            same = _same_knobs_as(trial.study, trial.number, trial.params)
            if same is not None:
                for key, value in fail_attrs(f"not run: the same knobs as trial {same}").items():
                    trial.set_user_attr(key, value)
                raise optuna.TrialPruned()
            trial.set_user_attr(ATTR_STARTED, trial.number)
            try:
                points = runner.run(candidate, f"{trial.number:05d}")
                values = objective_values(points, config)
                if store is not None:
                    points = upload_trial_checkpoint(store, trial, points)
                record = points.own_point
                for key, value in record_attrs(record).items():
                    trial.set_user_attr(key, value)
                for name, value in constraint_values(record, config.space.constraints).items():
                    trial.set_constraint(name, value)
                add_sweep_trials(trial.study, config, trial.number, dict(trial.params), points, role_of(trial))
            except Exception as err:
                for key, value in fail_attrs(err).items():
                    trial.set_user_attr(key, value)
                raise
        return values

    return objective


def _same_knobs_as(study: optuna.Study, number: int, params: dict[str, Any]) -> int | None:
    """The trained trial (completed, or running and started) with exactly ``params``, if any: a resumed
    study never trains a configuration twice (a retry of a failed trial is not a duplicate)."""
    for other in trained_trials(study, (TrialState.COMPLETE, TrialState.RUNNING)):
        started = other.state == TrialState.COMPLETE or other.user_attrs.get(ATTR_STARTED) == other.number
        if other.number != number and started and other.params == params:
            return other.number
    return None


def objective_values(points: CandidatePoints, config: SearchConfig) -> list[float]:
    """The own point's objective values; ValueError naming the first NaN or infinite one (the trial fails)."""
    values = [points.own_point.objective_value(o) for o in config.space.objectives]
    for objective, value in zip(config.space.objectives, values):
        if not math.isfinite(value):
            raise ValueError(f"objective {objective.value} is {value}: a non-finite value fails the trial")
    return values


def _heartbeat(trial: optuna.Trial, config: SearchConfig) -> contextlib.AbstractContextManager[object]:
    """dslnas's heartbeat on journal storages (Optuna's own beats on RDB storages)."""
    if needs_dslnas_heartbeat(trial.storage):
        return JournalHeartbeat(trial, config.heartbeat_interval_s)
    return contextlib.nullcontext()


def recover_stale_trials(study: optuna.Study, config: SearchConfig) -> list[int]:
    """Fail (and re-queue once) trials of dead workers that Optuna's own heartbeat does not see (journal files)."""
    return fail_stale_journal_trials(study, config.grace_period_s)


def run_worker(config: SearchConfig, base_checkpoint: Path, n_trials: int, on_trial: ProgressCallback | None = None,
               worker: int = 0) -> None:
    """One worker (``worker``: its index, which seeds its sampler): run trials until the study holds
    ``config.trials`` completed ones (at most ``n_trials``)."""
    study = open_study(config, worker)
    store = open_artifact_store(config.artifact_location)
    claim_study_store(study, config.artifact_location)
    recover_stale_trials(study, config)
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [
        _stop_at_total(config), lambda study, trial: recover_stale_trials(study, config)]
    if on_trial is not None:
        callbacks.append(lambda study, trial: on_trial())
    runner = TrialRunner(config, base_checkpoint)
    optimize_despite_taken_trials(study, make_objective(config, runner, store), n_trials, callbacks)


def _wait_while_others_finish_the_total(study: optuna.Study, config: SearchConfig, number: int) -> bool:
    """True when trial ``number`` must not run: the completed trained trials make the study's total.

    While the completed ones plus the others holding a place would make it, wait: a running trial may still
    fail (or belong to a killed worker, which the heartbeat fails after the grace period; stale trials are
    failed here too, so waiting workers never wait for a dead one), and then this trial runs in its place.
    A place is held by a trial that started training (:data:`ATTR_STARTED`) or by a lower-numbered running
    one still deciding: two deciding trials never wait for each other (the lower one goes first), so the
    wait always ends once the started trials end.
    """
    while True:
        complete = len(trained_trials(study))
        if complete >= config.trials:
            return True
        running = trained_trials(study, (TrialState.RUNNING,))
        if complete + sum(_holds_a_place(t, number) for t in running) < config.trials:
            return False
        _fail_stale(study, config)
        time.sleep(min(config.heartbeat_interval_s, 5))


def _holds_a_place(trial: optuna.trial.FrozenTrial, deciding: int) -> bool:
    """Whether running ``trial`` counts against the total for trial number ``deciding``."""
    if trial.number == deciding:
        return False
    return trial.number < deciding or trial.user_attrs.get(ATTR_STARTED) == trial.number


def _fail_stale(study: optuna.Study, config: SearchConfig) -> None:
    if needs_dslnas_heartbeat(study._storage):  # noqa: SLF001 - a Study exposes no public storage
        fail_stale_journal_trials(study, config.grace_period_s)
    else:
        with warnings.catch_warnings():  # marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)


def _stop_at_total(config: SearchConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if len(trained_trials(study)) >= config.trials:
            study.stop()

    return callback


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch uses ``threads`` intra-op threads inside the block (the caller's setting is restored)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _worker_entry(config_json: str, base_checkpoint: str, n_trials: int, worker: int) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = SearchConfig.model_validate_json(config_json)
    with torch_threads(config.threads_per_worker(config.workers)):  # K workers share the host's cores
        try:
            run_worker(config, Path(base_checkpoint), n_trials, worker=worker)
        except UserError as err:  # one line, as the CLI prints it (not the process's traceback)
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)


class OptunaBackend(SearchBackend):
    """``config.workers`` processes each run ``study.optimize`` on the shared storage (1: in this process)."""

    name = "optuna"

    def run(self, config: SearchConfig, base_checkpoint: Path, max_attempts: int,
            on_progress: ProgressCallback | None = None) -> None:
        if config.fidelity is not None:  # Pareto successive halving (search.fidelity_run); jobs in local processes
            from dslnas.search.fidelity_run import LocalJobs, run_fidelity

            with torch_threads(config.threads_per_worker(1)):  # workers > 1: each job process sets its own
                run_fidelity(config, base_checkpoint, LocalJobs(config, base_checkpoint), on_progress)
            return
        run_optuna(config, base_checkpoint, max_attempts, on_progress)
        prune_leftover_retries(open_study(config), config.trials)  # a finished search leaves nothing queued


def run_optuna(config: SearchConfig, base_checkpoint: Path, n_trials: int, on_progress: ProgressCallback | None = None) -> None:
    """Run up to ``n_trials`` trials with ``config.workers`` workers (1: in this process).

    Queued trials (the reference points, retries) run here first: taking a queued trial is not atomic
    in SQLite, so parallel workers only ever create new trials. (PostgreSQL workers started separately
    are safe: their storage locks the row.)
    """
    study = open_study(config)
    recover_stale_trials(study, config)  # their retries are queued: run them here, before the workers start
    waiting = len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if config.workers == 1 or waiting:
        with torch_threads(config.threads_per_worker(1)):  # the only worker on this host while it runs
            run_worker(config, base_checkpoint, n_trials if config.workers == 1 else waiting, on_progress)
        n_trials -= waiting
    if config.workers == 1 or n_trials <= 0 or len(trained_trials(study)) >= config.trials:
        return  # the queued trials made the total: no worker to start (and none to wait for)
    ctx = mp.get_context("spawn")
    per_worker = -(-n_trials // config.workers)
    procs = [
        ctx.Process(target=_worker_entry, args=(config.model_dump_json(), str(base_checkpoint), per_worker, index + 1))
        for index in range(config.workers)
    ]
    for proc in procs:
        proc.start()
    _join_workers(procs, study, config, on_progress)


EXIT_AFTER_TOTAL_S = 60.0
"""How long a worker may stay alive once the study holds its total before it is stopped as stuck."""


def _join_workers(procs: list[Any], study: optuna.Study, config: SearchConfig,
                  on_progress: ProgressCallback | None = None, exit_after_total_s: float = EXIT_AFTER_TOTAL_S) -> None:
    """Wait for the worker processes; UserError (one line) for a worker that exited non-zero, or that is
    still alive ``exit_after_total_s`` after the study reached its total (stuck: it is stopped).

    No wait is unbounded: a worker either trains (its trial beats, or the others fail it as stale), or
    finds the total reached and exits. Interrupted (Ctrl-C), the parent stops its workers before it returns.
    """
    reached_at: float | None = None
    try:
        while any(p.is_alive() for p in procs):
            for proc in procs:
                proc.join(timeout=2.0)
            if on_progress is not None:
                on_progress()
            if reached_at is None and len(trained_trials(study)) >= config.trials:
                reached_at = time.monotonic()
            if reached_at is not None and time.monotonic() - reached_at > exit_after_total_s:
                stuck = [p.pid for p in procs if p.is_alive()]
                if stuck:
                    raise UserError(f"search worker(s) {stuck} still alive {exit_after_total_s:g} s after the study "
                                    f"reached its {config.trials} trials; stopped them (completed trials are kept)")
    finally:
        _stop(procs)
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise UserError(f"{len(bad)} search worker(s) exited with codes {bad}; completed trials are kept in the study "
                        "(rerun the same command to continue)")


def _stop(procs: list[Any], wait_s: float = 10.0) -> None:
    """Terminate the workers still alive, then kill those that ignore it."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=wait_s)
        if proc.is_alive():
            proc.kill()
            proc.join()
