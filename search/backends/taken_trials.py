"""A worker whose running trial another worker ended goes on (one warning line, no traceback, exit 0).

A worker judges another's running trial dead when its heartbeat is older than the grace period, fails it
and queues its retry. On a busy host a live worker's beat can be late (its process starved of CPU, or a
storage write waiting on a lock), so its trial is failed under it. Every write the worker then makes to
the trial raises ``UpdateFinishedTrialError``, and Optuna's ``tell`` after the objective raises
``ValueError("Cannot tell a FAIL trial.")`` out of ``study.optimize``: before this module that crashed the
worker with two tracebacks and the search ended on "1 search worker(s) exited", though the study was whole.

Here the objective's ``UpdateFinishedTrialError`` becomes :class:`TrialTakenAway` (a pruned trial for
Optuna, so no traceback is logged), and :func:`optimize_despite_taken_trials` catches the ``ValueError``
of a trial that is no longer RUNNING, says so in one line and runs the worker's remaining trials. The
trial's results are dropped: the retry the other worker queued trains the configuration again. A retry
still queued when the study holds its total is pruned at the end (:func:`prune_leftover_retries`).

A trial whose storage write failed (SQLite's "database or disk is full", a journal file's ``JournalDiskFull``,
a lost server) stops the worker with one ``error:`` line (:class:`StorageStopped`), its traceback kept out of
Optuna's failed-trial warning: before, a SQLite study on a full disk failed every trial of the run in turn,
each with three tracebacks, and a journal's full disk printed one traceback before its error line.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.records import fail_attrs
from dslnas.search.records.attrs import ATTR_FAIL_REASON
from dslnas.search.journal_file import JournalDiskFull
from dslnas.search.storage import storage_failure
from dslnas.search.study import trained_trials
from dslnas.spaces.errors import UserError

Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


class TrialTakenAway(optuna.TrialPruned):
    """This worker's running trial was ended by another worker (failed as stale): nothing more is written."""


@contextlib.contextmanager
def trial_taken_as_pruned(trial: optuna.Trial) -> Iterator[None]:
    """Inside the block, a write refused because another worker ended ``trial`` raises :class:`TrialTakenAway`."""
    try:
        yield
    except optuna.exceptions.UpdateFinishedTrialError as err:
        raise TrialTakenAway(f"trial {trial.number} was ended by another worker while this one ran it") from err


class _Tracker:
    """The objective as Optuna calls it: counts the calls, keeps the trial under way and the first storage
    failure the objective met."""

    def __init__(self, objective: Callable[[optuna.Trial], Any]) -> None:
        self.objective, self.calls, self.trial_id = objective, 0, -1
        self.storage_line: str | None = None

    def __call__(self, trial: optuna.Trial) -> Any:
        self.calls += 1
        self.trial_id = trial._trial_id  # noqa: SLF001 - the storage's id of the trial under way
        try:
            return self.objective(trial)
        except Exception as err:
            self.storage_line = self.storage_line or storage_line(err)
            raise

    def stop_on_storage_failure(self, _study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if self.storage_line:
            raise StorageStopped(self.storage_line)


def optimize_despite_taken_trials(study: optuna.Study, objective: Callable[[optuna.Trial], Any], n_trials: int,
                                  callbacks: Sequence[Callback]) -> None:
    """``study.optimize`` of ``n_trials`` trials (exceptions of the objective caught), going on past trials
    that another worker ended while this one ran them, stopping on a storage failure (module docstring)."""
    tracker = _Tracker(objective)
    while tracker.calls < n_trials:
        try:
            with _quiet_storage_failures():
                study.optimize(tracker, n_trials=n_trials - tracker.calls, catch=(Exception,),
                               callbacks=[tracker.stop_on_storage_failure, *callbacks])
            return
        except ValueError:  # Optuna's tell of a trial that is not RUNNING any more
            taken = study._storage.get_trial(tracker.trial_id) if tracker.trial_id >= 0 else None  # noqa: SLF001
            if taken is None or taken.state == TrialState.RUNNING:
                raise
            print(taken_away_warning(taken), file=sys.stderr, flush=True)
        except StorageStopped:
            raise
        except Exception as err:  # the storage failed outside the objective (Optuna's own writes)
            line = storage_line(err)
            if line is None:
                raise
            raise StorageStopped(line) from err


def storage_line(err: BaseException) -> str | None:
    """One line for a storage that failed under a trial (a journal file on a full disk, SQLite's commit, a lost
    server), else None."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, JournalDiskFull):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return storage_failure(err)


class StorageStopped(UserError):
    """A trial's storage write failed: the worker stops (completed trials are kept)."""

    def __init__(self, storage_line: str) -> None:
        if "disk is full" in storage_line:  # SQLite's "database or disk is full"
            storage_line = storage_line.split(" (restore")[0] + "; completed trials are kept: free some space and rerun the same command to continue"
        super().__init__(storage_line)


class _DropStorageTraceback(logging.Filter):
    """Optuna's failed-trial warning keeps its line but not the traceback of a storage failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and storage_line(record.exc_info[1]):
            record.exc_info, record.exc_text = None, None
        return True


@contextlib.contextmanager
def _quiet_storage_failures() -> Iterator[None]:
    logger, quiet = logging.getLogger("optuna"), _DropStorageTraceback()
    for handler in logger.handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in logger.handlers:
            handler.removeFilter(quiet)


def taken_away_warning(trial: optuna.trial.FrozenTrial) -> str:
    reason = trial.user_attrs.get(ATTR_FAIL_REASON) or "its heartbeat was late"
    return (f"warning: trial {trial.number} was ended ({trial.state.name}) by another worker while this one ran it "
            f"({reason}; a busy host: a longer --grace-period avoids it); its results are dropped, the retry "
            "queued for it trains it again")


def prune_leftover_retries(study: optuna.Study, total: int) -> list[int]:
    """Once the study holds ``total`` completed trained trials, the retries still queued (WAITING trials with
    a ``failed_trial``: a stale trial's retry, ours or Optuna's) are pruned with their reason, so a finished
    search leaves nothing queued. Returns their numbers. A retry another process took meanwhile is left to it."""
    if len(trained_trials(study)) < total:
        return []
    pruned = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if "failed_trial" not in trial.system_attrs:
            continue
        storage = study._storage  # noqa: SLF001 - a Study exposes no public storage
        try:
            for key, value in fail_attrs(f"not run: the study holds its {total} trials").items():
                storage.set_trial_user_attr(trial._trial_id, key, value)  # noqa: SLF001
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.PRUNED):  # noqa: SLF001
                pruned.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return pruned
