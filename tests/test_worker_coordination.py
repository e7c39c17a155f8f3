"""Workers sharing a study: the total check never makes two workers wait for each other (no training here).

CI hung in ``test_two_local_workers_share_a_sqlite_study``: two workers each asked a new trial while the
study was one trained trial short of its total, each counted the other's (still deciding) trial as running,
and each waited for the other to finish, forever.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import optuna
import pytest

from dslnas.search.backends import optuna_backend
from dslnas.search.backends.optuna_backend import _wait_while_others_finish_the_total as must_skip
from dslnas.search.backends.optuna_backend import _join_workers, make_objective
from dslnas.search.config import SearchConfig
from dslnas.search.records import ATTR_FAIL_REASON
from dslnas.search.storage import ATTR_HEARTBEAT, ATTR_STARTED, SQLITE_BUSY_TIMEOUT_S, open_storage
from dslnas.search.study import open_study
from dslnas.spaces.errors import UserError
from dslnas.spaces.space_presets import load_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


class WouldWait(Exception):
    """Raised instead of sleeping: the caller decided to wait."""


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    def sleep(_seconds: float) -> None:
        raise WouldWait

    monkeypatch.setattr(optuna_backend.time, "sleep", sleep)


def config_for(tmp_path: Path, storage: str, trials: int) -> SearchConfig:
    return SearchConfig(study="tiny", space=load_space(str(TINY_SPACE)), trials=trials,
                        runs_root=str(tmp_path / "runs"), storage=storage)


def fresh_study(tmp_path: Path, trials: int) -> tuple[SearchConfig, optuna.Study]:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'study.db'}", trials)
    study = optuna.create_study(study_name="tiny", storage=config.storage,
                                directions=[o.direction for o in config.space.objectives])
    return config, study


@pytest.mark.usefixtures("no_waiting")
def test_two_deciding_trials_never_wait_for_each_other(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    first, second = study.ask(), study.ask()  # both RUNNING, neither started training
    assert must_skip(study, config, first.number) is False  # the lower one goes first
    with pytest.raises(WouldWait):
        must_skip(study, config, second.number)


@pytest.mark.usefixtures("no_waiting")
def test_a_started_trial_holds_its_place_for_every_other(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    first, second = study.ask(), study.ask()
    second.set_user_attr(ATTR_STARTED, second.number)
    with pytest.raises(WouldWait):
        must_skip(study, config, first.number)
    study.tell(second, state=optuna.trial.TrialState.FAIL)  # it failed: the waiting one runs in its place
    assert must_skip(study, config, first.number) is False


@pytest.mark.usefixtures("no_waiting")
def test_a_start_mark_copied_from_another_trial_holds_no_place(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    first, second = study.ask(), study.ask()
    second.set_user_attr(ATTR_STARTED, first.number)  # as a retry copying its failed original's attributes
    assert must_skip(study, config, first.number) is False


@pytest.mark.usefixtures("no_waiting")
def test_a_full_study_starts_nothing(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    done = study.ask()
    study.tell(done, [3.0, 10.0])
    assert must_skip(study, config, study.ask().number) is True


def test_a_waiting_trial_beats_on_a_journal_so_it_is_not_failed_as_stale(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_for(tmp_path, str(tmp_path / "study.log"), trials=1)
    study = open_study(config)
    seen: list[object] = []

    def wait(study: optuna.Study, _config: SearchConfig, number: int) -> bool:
        trial = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        seen.append(trial.user_attrs.get(ATTR_HEARTBEAT))
        return True  # then it is pruned

    monkeypatch.setattr(optuna_backend, "_wait_while_others_finish_the_total", wait)
    study.optimize(make_objective(config, runner=None), n_trials=1)  # type: ignore[arg-type]
    assert len(seen) == 1 and isinstance(seen[0], float)
    assert study.get_trials()[-1].state == optuna.trial.TrialState.PRUNED


def test_a_worker_alive_long_after_the_total_is_stopped_with_one_line(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    done = study.ask()
    study.tell(done, [3.0, 10.0])
    stuck = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(3600,))
    stuck.start()
    started = time.monotonic()
    with pytest.raises(UserError, match=r"still alive 1 s after the study reached its 1 trials"):
        _join_workers([stuck], study, config, exit_after_total_s=1.0)
    assert time.monotonic() - started < 60 and not stuck.is_alive()


def test_a_worker_that_dies_is_reported_in_one_line(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=1)
    dead = multiprocessing.get_context("spawn").Process(target=os._exit, args=(3,))
    dead.start()
    with pytest.raises(UserError, match=r"1 search worker\(s\) exited with codes \[3\]"):
        _join_workers([dead], study, config)


def test_sqlite_writes_wait_for_a_busy_file_a_minute(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", "tiny", root=tmp_path)
    connection = storage.engine.raw_connection()
    try:
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == SQLITE_BUSY_TIMEOUT_S * 1000
    finally:
        connection.close()


def sampled_params(study: optuna.Study, config: SearchConfig, complete: bool = True) -> dict[str, object]:
    trial = study.ask()
    config.space.suggest(trial)
    if complete:
        study.tell(trial, [3.0, 10.0])
    return trial.params


def test_a_reopened_study_does_not_replay_the_first_processs_draws(tmp_path: Path) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'study.db'}", trials=5)
    first = open_study(config)
    sampled_params(first, config)  # the queued reference
    drawn = sampled_params(first, config)
    assert sampled_params(open_study(config), config) != drawn  # a new process (a resume)


def test_workers_opening_a_study_together_draw_differently(tmp_path: Path) -> None:
    config = config_for(tmp_path, f"sqlite:///{tmp_path / 'study.db'}", trials=5)
    sampled_params(open_study(config), config)  # the queued reference
    assert sampled_params(open_study(config, worker=1), config) != sampled_params(open_study(config, worker=2), config)


class TrainingStarted(Exception):
    """Raised by the stand-in runner: the objective went on to train."""


class StandInRunner:
    def run(self, *_: object) -> None:
        raise TrainingStarted("would train")


def test_a_configuration_the_study_has_is_not_trained_again(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=5)
    params = sampled_params(study, config)
    study.enqueue_trial(params)  # as a seeded sampler replaying its first draw in a new process
    study.optimize(make_objective(config, StandInRunner()), n_trials=1)  # type: ignore[arg-type]
    again = study.get_trials()[-1]
    assert again.state == optuna.trial.TrialState.PRUNED and again.params == params
    assert "the same knobs as trial 0" in again.user_attrs[ATTR_FAIL_REASON]


def test_a_retry_of_a_failed_configuration_trains(tmp_path: Path) -> None:
    config, study = fresh_study(tmp_path, trials=5)
    failed = study.ask()
    config.space.suggest(failed)
    study.tell(failed, state=optuna.trial.TrialState.FAIL)
    study.enqueue_trial(failed.params)
    study.optimize(make_objective(config, StandInRunner()), n_trials=1, catch=(TrainingStarted,))  # type: ignore[arg-type]
    assert "would train" in study.get_trials()[-1].user_attrs[ATTR_FAIL_REASON]
