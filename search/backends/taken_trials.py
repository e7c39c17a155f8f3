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
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.records import fail_attrs
from dslnas.search.records.attrs import ATTR_FAIL_REASON
from dslnas.search.study import trained_trials

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


def optimize_despite_taken_trials(study: optuna.Study, objective: Callable[[optuna.Trial], Any], n_trials: int,
                                  callbacks: Sequence[Callback]) -> None:
    """``study.optimize`` of ``n_trials`` trials (exceptions of the objective caught), going on past trials
    that another worker ended while this one ran them (see the module docstring)."""
    calls, current = 0, [-1]

    def tracked(trial: optuna.Trial) -> Any:
        nonlocal calls
        calls += 1
        current[0] = trial._trial_id  # noqa: SLF001 - the storage's id of the trial under way
        return objective(trial)

    while calls < n_trials:
        try:
            study.optimize(tracked, n_trials=n_trials - calls, catch=(Exception,), callbacks=list(callbacks))
            return
        except ValueError:  # Optuna's tell of a trial that is not RUNNING any more
            if current[0] < 0:
                raise
            taken = study._storage.get_trial(current[0])  # noqa: SLF001 - a Study exposes no public storage
            if taken.state == TrialState.RUNNING:
                raise
            print(taken_away_warning(taken), file=sys.stderr, flush=True)


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
