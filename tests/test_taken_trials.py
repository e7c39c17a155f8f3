"""A worker whose running trial another worker failed as stale goes on (no training here).

Measured by ``bench/faults.py --storage journal --workers 2`` on a loaded host (heartbeat 1 s, grace 3 s):
a live worker's beat came late, another worker failed its trial and queued a retry, and the live worker
then crashed with ``ValueError: Cannot tell a FAIL trial.`` and two tracebacks; the search ended on "1
search worker(s) exited", though the study was whole.
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from dslnas.search.backends.optuna_backend import run_worker
from dslnas.search.backends.taken_trials import StorageStopped, prune_leftover_retries
from dslnas.search.config import SearchConfig
from dslnas.search.journal_file import JournalDiskFull
from dslnas.search.points import CandidatePoints
from dslnas.search.records import ATTR_FAIL_REASON, role_of
from dslnas.search.storage import fail_stale_journal_trials
from dslnas.search.study import open_study
from dslnas.search.trial import TrialRunner
from dslnas.spaces.space_presets import load_space
from study_fixtures import fake_trial_points

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def stand_in_runs(tmp_path: Path, study: list[optuna.Study], taken: set[int]):
    """A TrialRunner.run that writes a fake checkpoint and returns fake points; on its first call the
    "other worker" fails the running trial as stale (and queues its retry) while this one still runs it."""
    def run(self: TrialRunner, candidate, trial_key: str, *args, **kwargs) -> CandidatePoints:
        if not taken:
            taken.update(fail_stale_journal_trials(study[0], grace_period_s=-1.0))  # every running trial is "stale"
        return fake_trial_points(tmp_path, candidate, trial_key)

    return run


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_a_worker_whose_running_trial_another_failed_goes_on(tmp_path: Path, storage: str,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    url = str(tmp_path / "study.log") if storage == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    config = SearchConfig(study="taken", space=load_space(str(TINY_SPACE)), trials=2, storage=url,
                          runs_root=str(tmp_path / "runs"))
    opened: list[optuna.Study] = []
    taken: set[int] = set()
    import dslnas.search.backends.optuna_backend as backend

    real_open = backend.open_study
    monkeypatch.setattr(backend, "open_study", lambda *a, **k: opened.append(real_open(*a, **k)) or opened[-1])
    monkeypatch.setattr(TrialRunner, "run", stand_in_runs(tmp_path, opened, taken))
    if storage == "sqlite":  # the journal's stale check, on RDB too: the same failed-under-it trial
        monkeypatch.setattr("dslnas.search.storage.needs_dslnas_heartbeat", lambda _storage: True)
    run_worker(config, tmp_path / "base.pt", n_trials=4)  # before the fix: ValueError: Cannot tell a FAIL trial.

    err = capfd.readouterr().err
    trials = optuna.load_study(study_name="taken", storage=opened[0]._storage).get_trials()  # noqa: SLF001
    (number,) = taken
    assert trials[number].state == TrialState.FAIL and "no heartbeat" in trials[number].user_attrs[ATTR_FAIL_REASON]
    assert f"warning: trial {number} was ended (FAIL) by another worker" in err and "Traceback" not in err
    trained = [t for t in trials if role_of(t).trained]
    assert sum(t.state == TrialState.COMPLETE for t in trained) == 2  # the retry trained, the study is whole
    assert not [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]


def test_a_finished_search_leaves_no_retry_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """journal x 2 workers (bench/faults.py): a retry queued for a trial failed as stale after the last ask of
    every worker stayed WAITING once the study held its total. Only retries are pruned, and only then."""
    config = SearchConfig(study="left", space=load_space(str(TINY_SPACE)), trials=1, storage=str(tmp_path / "s.log"),
                          runs_root=str(tmp_path / "runs"))
    monkeypatch.setattr(TrialRunner, "run", lambda self, candidate, key, *a, **k: fake_trial_points(tmp_path, candidate, key))
    study = open_study(config)
    study.enqueue_trial({"alpha": 0.5})   # queued, not a retry: kept
    retry = optuna.trial.create_trial(state=TrialState.WAITING, params={}, distributions={},
                                      system_attrs={"failed_trial": 0, "retry_history": [0]})
    study.add_trial(retry)
    assert prune_leftover_retries(study, config.trials) == []  # the study does not hold its total yet
    run_worker(config, tmp_path / "base.pt", n_trials=1)  # the queued reference trains: the total is reached
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 2
    assert prune_leftover_retries(study, config.trials) == [t.number for t in waiting if "failed_trial" in t.system_attrs]
    (kept,) = study.get_trials(states=(TrialState.WAITING,))
    assert "failed_trial" not in kept.system_attrs
    pruned = [t for t in study.get_trials(states=(TrialState.PRUNED,)) if "failed_trial" in t.system_attrs]
    assert [t.user_attrs[ATTR_FAIL_REASON] for t in pruned] == ["not run: the study holds its 1 trials"]


def full_disk_error() -> optuna.exceptions.StorageInternalError:
    """What Optuna's RDB storage raises when SQLite's commit meets a full disk (its real chain of causes)."""
    import sqlite3

    import sqlalchemy.exc

    driver = sqlalchemy.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    try:
        raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from driver
    except optuna.exceptions.StorageInternalError as err:
        return err


def journal_full_error(path: Path) -> JournalDiskFull:
    try:
        raise OSError(28, "No space left on device")
    except OSError as err:
        try:
            raise JournalDiskFull(f"journal file {path}: disk full (No space left on device); the write was taken "
                                  "back, nothing completed is lost") from err
        except JournalDiskFull as full:
            return full


@pytest.mark.parametrize("storage", ["sqlite", "journal"])
def test_a_trial_whose_storage_write_fails_stops_the_worker_in_one_line(tmp_path: Path, storage: str,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capfd: pytest.CaptureFixture[str]) -> None:
    """A full tmpfs (bench/faults.py --full-disk): on SQLite every trial of the run failed in turn on the commit,
    each with three tracebacks; on a journal the error line came after one traceback. Now the first failed
    write stops the worker in one line."""
    import dslnas.search.backends.optuna_backend as backend

    url = f"sqlite:///{tmp_path / 'study.db'}" if storage == "sqlite" else str(tmp_path / "study.log")
    config = SearchConfig(study="full", space=load_space(str(TINY_SPACE)), trials=3, storage=url,
                          runs_root=str(tmp_path / "runs"))
    monkeypatch.setattr(TrialRunner, "run", lambda self, candidate, key, *a, **k: fake_trial_points(tmp_path, candidate, key))

    def full_disk(*_: object) -> None:
        raise full_disk_error() if storage == "sqlite" else journal_full_error(tmp_path / "study.log")

    monkeypatch.setattr(backend, "add_sweep_trials", full_disk)
    line = "database or disk is full; completed trials are kept: free some space" if storage == "sqlite" else \
        "study.log: disk full \\(No space left on device\\); the write was taken back, nothing completed is lost$"
    with pytest.raises(StorageStopped, match=line):
        run_worker(config, tmp_path / "base.pt", n_trials=3)
    assert "Traceback" not in capfd.readouterr().err
    trials = optuna.load_study(study_name="full", storage=backend.open_study(config)._storage).get_trials()  # noqa: SLF001
    assert [t.state for t in trials if role_of(t).trained] == [TrialState.FAIL]  # the first trial only


def test_no_worker_starts_when_the_queued_retries_made_the_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/faults.py --full-disk journal x 2 workers: the rerun's queued retry completed the study in the
    parent, two workers started anyway and, slow to start on a busy host, were stopped as stuck 60 s later
    (exit 2: "still alive 60 s after the study reached its 2 trials")."""
    import dslnas.search.backends.optuna_backend as backend

    config = SearchConfig(study="made", space=load_space(str(TINY_SPACE)), trials=1, workers=2,
                          storage=str(tmp_path / "s.log"), runs_root=str(tmp_path / "runs"))
    monkeypatch.setattr(TrialRunner, "run", lambda self, candidate, key, *a, **k: fake_trial_points(tmp_path, candidate, key))

    def no_processes(_method: str) -> None:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(backend.mp, "get_context", no_processes)
    open_study(config)  # queues the reference trial: run in the parent, it makes the total of 1
    backend.run_optuna(config, tmp_path / "base.pt", n_trials=4)
    assert len(backend.trained_trials(open_study(config))) == 1
