"""Optuna backend: ``workers`` processes each run ``study.optimize`` on the shared storage.

A trial that raises (or yields NaN) is recorded FAIL with its reason and the search goes on; a worker
killed mid-trial leaves a RUNNING trial that the heartbeat marks FAIL and re-queues (RDB storages).
The trained trial returns its own point's values; its other sweep points are stored as trials of their own
(``study.add_sweep_trials``). ``config.trials`` counts trained trials: a worker starts none once the
completed and running ones reach it, so workers sharing a study stop at the total exactly.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from pathlib import Path

import optuna
from optuna.trial import TrialState

from dslnas.search.backends.base import ProgressCallback, SearchBackend
from dslnas.search.config import SearchConfig
from dslnas.search.points import constraint_values
from dslnas.search.records import fail_attrs, record_attrs, role_of
from dslnas.search.study import add_sweep_trials, open_study, trained_trials
from dslnas.search.trial import TrialRunner


def make_objective(config: SearchConfig, runner: TrialRunner) -> Callable[[optuna.Trial], list[float]]:
    """The Optuna objective: sample, run, store the record, return the objective values."""
    def objective(trial: optuna.Trial) -> list[float]:
        if _total_reached(trial.study, config, trial.number):
            trial.study.stop()
            for key, value in fail_attrs(f"not run: the study holds or is running its {config.trials} trials").items():
                trial.set_user_attr(key, value)
            raise optuna.TrialPruned()
        try:
            candidate = config.space.suggest(trial)
            points = runner.run(candidate, f"{trial.number:05d}")
        except Exception as err:
            for key, value in fail_attrs(err).items():
                trial.set_user_attr(key, value)
            raise
        record = points.own_point
        for key, value in record_attrs(record).items():
            trial.set_user_attr(key, value)
        for name, value in constraint_values(record, config.space.constraints).items():
            trial.set_constraint(name, value)
        add_sweep_trials(trial.study, config, trial.number, dict(trial.params), points, role_of(trial))
        return [record.objective_value(o) for o in config.space.objectives]

    return objective


def run_worker(config: SearchConfig, base_checkpoint: Path, n_trials: int, on_trial: ProgressCallback | None = None) -> None:
    """One worker: run trials until the study holds ``config.trials`` completed ones (at most ``n_trials``)."""
    study = open_study(config)
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [_stop_at_total(config)]
    if on_trial is not None:
        callbacks.append(lambda study, trial: on_trial())
    runner = TrialRunner(config, base_checkpoint)
    study.optimize(make_objective(config, runner), n_trials=n_trials, catch=(Exception,), callbacks=callbacks)


def _total_reached(study: optuna.Study, config: SearchConfig, number: int) -> bool:
    """Whether the study's completed trained trials plus the others running now already make its total."""
    states = (TrialState.COMPLETE, TrialState.RUNNING)
    return sum(t.number != number for t in trained_trials(study, states)) >= config.trials


def _stop_at_total(config: SearchConfig) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if len(trained_trials(study)) >= config.trials:
            study.stop()

    return callback


def _worker_entry(config_json: str, base_checkpoint: str, n_trials: int) -> None:
    import torch

    torch.set_num_threads(1)  # K workers share the host's cores
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run_worker(SearchConfig.model_validate_json(config_json), Path(base_checkpoint), n_trials)


class OptunaBackend(SearchBackend):
    """``config.workers`` processes each run ``study.optimize`` on the shared storage (1: in this process)."""

    name = "optuna"

    def run(self, config: SearchConfig, base_checkpoint: Path, max_attempts: int,
            on_progress: ProgressCallback | None = None) -> None:
        run_optuna(config, base_checkpoint, max_attempts, on_progress)


def run_optuna(config: SearchConfig, base_checkpoint: Path, n_trials: int, on_progress: ProgressCallback | None = None) -> None:
    """Run up to ``n_trials`` trials with ``config.workers`` workers (1: in this process).

    Queued trials (the reference points, retries) run here first: taking a queued trial is not atomic
    in SQLite, so parallel workers only ever create new trials. (PostgreSQL workers started separately
    are safe: their storage locks the row.)
    """
    waiting = len(open_study(config).get_trials(deepcopy=False, states=(TrialState.WAITING,)))
    if config.workers == 1 or waiting:
        run_worker(config, base_checkpoint, n_trials if config.workers == 1 else waiting, on_progress)
        n_trials -= waiting
    if config.workers == 1 or n_trials <= 0:
        return
    ctx = mp.get_context("spawn")
    per_worker = -(-n_trials // config.workers)
    procs = [
        ctx.Process(target=_worker_entry, args=(config.model_dump_json(), str(base_checkpoint), per_worker))
        for _ in range(config.workers)
    ]
    for proc in procs:
        proc.start()
    while any(p.is_alive() for p in procs):
        for proc in procs:
            proc.join(timeout=2.0)
        if on_progress is not None:
            on_progress()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise RuntimeError(f"{len(bad)} search worker(s) exited with codes {bad}; completed trials are kept in the study")
