"""Faults on purpose: dead workers on a journal file, non-finite objectives, confirm runs at the same moment."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from dslnas.search import trial as trial_module
from dslnas.search.config import SearchConfig
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import ATTR_FAIL_REASON, Comparison, ConfirmationEntry, append_confirmations, role_of, stored_confirmations
from dslnas.search.run import run_search
from dslnas.search.storage import ATTR_HEARTBEAT, JournalHeartbeat, fail_stale_journal_trials, open_storage
from dslnas.spaces.space_presets import load_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def _journal_study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(study_name="j", storage=open_storage(str(tmp_path / "j.log"), "j"), load_if_exists=True)


def test_a_dead_workers_journal_trial_is_failed_and_requeued_once(tmp_path: Path) -> None:
    study = _journal_study(tmp_path)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    study._storage.set_trial_user_attr(trial._trial_id, ATTR_HEARTBEAT, time.time() - 10.0)
    assert fail_stale_journal_trials(_journal_study(tmp_path), grace_period_s=3) == [trial.number]
    assert fail_stale_journal_trials(_journal_study(tmp_path), grace_period_s=3) == []  # once only
    trials = _journal_study(tmp_path).get_trials()
    assert trials[0].state == TrialState.FAIL and "heartbeat" in trials[0].user_attrs[ATTR_FAIL_REASON]
    retry = trials[1]
    assert retry.state == TrialState.WAITING and retry.params == trials[0].params
    assert ATTR_HEARTBEAT not in retry.user_attrs and retry.system_attrs["retry_history"] == [0]
    # the retry dies too: failed, not queued a second time (max_retry 1)
    again = _journal_study(tmp_path).ask()
    assert again.number == retry.number
    study._storage.set_trial_user_attr(again._trial_id, ATTR_HEARTBEAT, time.time() - 10.0)
    assert fail_stale_journal_trials(_journal_study(tmp_path), grace_period_s=3) == [again.number]
    assert [t.state for t in _journal_study(tmp_path).get_trials()] == [TrialState.FAIL, TrialState.FAIL]


def test_a_beating_journal_trial_is_left_running(tmp_path: Path) -> None:
    study = _journal_study(tmp_path)
    trial = study.ask()
    with JournalHeartbeat(trial, interval_s=0.2):
        time.sleep(1.5)
        assert fail_stale_journal_trials(_journal_study(tmp_path), grace_period_s=1) == []
    assert _journal_study(tmp_path).get_trials()[0].state == TrialState.RUNNING


_CONFIRM = """
import sys, time, optuna
from dslnas.search.records import Comparison, ConfirmationEntry, append_confirmations
url, tag, go = sys.argv[1], sys.argv[2], sys.argv[3]
study = optuna.load_study(study_name="c", storage=url)
import os
while not os.path.exists(go): time.sleep(0.005)
for i in range(15):
    entry = ConfirmationEntry(path=f"{tag}-{i}", runner="local", device="host", timestamp="t", comparison=Comparison.RANKING,
                              predicted_profile="a32-paper", predicted_latency_ms=1.0, predicted_power_mw=1.0)
    append_confirmations(study, 0, [entry])
"""


def test_two_confirm_runs_at_once_lose_no_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    study = optuna.create_study(study_name="c", storage=url)
    old = ConfirmationEntry(path="first", runner="local", device="host", timestamp="t", comparison=Comparison.RANKING,
                            predicted_profile="a32-paper", predicted_latency_ms=1.0, predicted_power_mw=1.0)
    append_confirmations(study, 0, [old])
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _CONFIRM, url, tag, str(go)], stderr=subprocess.PIPE, text=True)
             for tag in ("a", "b")]
    time.sleep(4)  # both have imported and wait at the start line
    go.touch()
    assert [p.wait(timeout=120) for p in procs] == [0, 0], [p.stderr.read()[-500:] for p in procs]
    entries = stored_confirmations(optuna.load_study(study_name="c", storage=url).user_attrs, 0)
    paths = [e.path for e in entries]
    assert len(paths) == 31 and paths[0] == "first"
    for tag in ("a", "b"):  # each run's own entries in the order it wrote them
        assert [p for p in paths if p.startswith(tag + "-")] == [f"{tag}-{i}" for i in range(15)]
    assert stored_confirmations(optuna.load_study(study_name="c", storage=url).user_attrs, 1) == ()


def _tiny(tmp_path: Path, **changes: object) -> SearchConfig:
    settings: dict[str, object] = {"study": "tiny", "space": load_space(str(TINY_SPACE)), "trials": 3,
                                   "runs_root": str(tmp_path / "runs"), "storage": f"sqlite:///{tmp_path / 'study.db'}"}
    return SearchConfig(**{**settings, **changes})


@pytest.mark.slow
def test_non_finite_objectives_fail_the_trial_with_a_reason_and_the_search_goes_on(tmp_path: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = trial_module.TrialRunner.run
    bad = {2: math.nan, 3: math.inf, 4: -math.inf}  # call number -> the visqol the trial reports
    calls: list[str] = []

    def poisoned(self: trial_module.TrialRunner, candidate, key: str):  # noqa: ANN001
        calls.append(key)
        points = real_run(self, candidate, key)
        if len(calls) not in bad:
            return points
        own = points.own_point
        broken = dataclasses.replace(own, visqol=dataclasses.replace(own.visqol, mixed=bad[len(calls)]))
        return dataclasses.replace(points, points=tuple(broken if r is own else r for r in points.points))

    monkeypatch.setattr(trial_module.TrialRunner, "run", poisoned)
    config = _tiny(tmp_path, trials=3)
    assert run_search(config).after.complete == 2  # 5 attempts: reference, nan, inf, two good ones... one short
    assert run_search(config).after.complete == 3  # -inf, then a good one
    study = optuna.load_study(study_name="tiny", storage=config.storage)
    failed = [t for t in study.get_trials() if t.state == TrialState.FAIL]
    reasons = [t.user_attrs[ATTR_FAIL_REASON] for t in failed]
    assert len(failed) == 3 and all("non-finite" in r for r in reasons)
    assert [r.split(" is ")[1].split(":")[0] for r in reasons] == ["nan", "inf", "-inf"]
    listed = {u.number: u.reason for u in compute_pareto_front(study).unfinished}  # what `report` lists
    assert all(listed[t.number] == t.user_attrs[ATTR_FAIL_REASON] for t in failed)


@pytest.mark.slow
def test_non_finite_objectives_fail_the_trial_on_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The trainable runs in a Ray worker: this module is shipped to it by value, so the poisoned trainable runs
    there (the real trial, then a NaN quality for the first trial to claim the marker file)."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    from dslnas.search.backends import ray_backend

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "poisoned"
    monkeypatch.setattr(ray_backend, "_trainable", _poisoned_trainable(str(marker)))
    config = _tiny(tmp_path, trials=2, backend="ray", workers=1)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        run_search(config)
    finally:
        ray.shutdown()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    study = optuna.load_study(study_name="tiny", storage=config.storage)
    failed = [t for t in study.get_trials() if t.state == TrialState.FAIL]
    assert marker.exists() and len(failed) == 1, [t.state for t in study.get_trials()]
    assert "non-finite" in failed[0].user_attrs[ATTR_FAIL_REASON] and "nan" in failed[0].user_attrs[ATTR_FAIL_REASON]
    assert sum(t.state == TrialState.COMPLETE and role_of(t).trained for t in study.get_trials()) == 1
    assert failed[0].number in {u.number for u in compute_pareto_front(study).unfinished}


def _poisoned_trainable(marker: str):  # noqa: ANN202
    """A trainable that runs the real one, then reports NaN quality for the first trial to claim ``marker``."""
    def trainable(params, config_json, base_checkpoint):  # noqa: ANN001, ANN202
        from dslnas.search.backends import ray_backend as rb  # the worker's own module: the real trainable

        result = rb._trainable(params, config_json, base_checkpoint)
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return result
        result["visqol"] = math.nan
        result[rb.POINTS_KEY][result[rb.OWN_KEY]]["visqol"]["mixed"] = math.nan
        return result

    return trainable


@pytest.mark.slow
def test_a_search_killed_mid_trial_on_a_journal_file_fails_that_trial_and_the_rerun_completes(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from faults import GRACE_S, measure, phase_reached, run_until

    url, study_root = str(tmp_path / "kill.log"), tmp_path / "runs" / "killme"
    # A fine-tune long enough to be caught mid-way on a fast machine (the tiny space's 2 steps can finish
    # between two looks of the phase watcher, 50 ms apart); no checkpoint before its end, so the whole
    # fine-tune is the window. 60 steps, not 400: every trial of both runs pays them (CI time).
    space = tmp_path / "slow-finetune.yaml"
    space.write_text(f"extends: {TINY_SPACE}\nfinetune: {{steps: 60, checkpoint_every: 60}}\n")
    cmd = [sys.executable, "-m", "dslnas.search", "search", "--space", str(space), "--trials", "3", "--study", "killme",
           "--storage", url, "--heartbeat-interval", "1", "--grace-period", str(GRACE_S)]
    seen: set[Path] = set()
    rng = __import__("random").Random(0)
    assert run_until(cmd, tmp_path, lambda started: phase_reached("finetune", study_root, started, seen, rng), 600)
    time.sleep(GRACE_S + 1.5)
    assert not run_until(cmd, tmp_path, None, 600)
    row = measure("journal", 1, url, "killme", 3, ("finetune",), set(), tmp_path)
    assert (row.lost, row.duplicated, row.running, row.waiting, row.finished) == (0, 0, 0, 0, True)
    assert row.reads and row.tracebacks == 0  # both runs' stderr: one-line errors at most
    trials = optuna.load_study(study_name="killme", storage=open_storage(url, "killme")).get_trials()
    killed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(killed) == 1 and "heartbeat" in killed[0].user_attrs[ATTR_FAIL_REASON]
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE and retried[0].params == killed[0].params


def test_a_first_search_that_fails_before_any_trial_leaves_no_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dslnas.search.run as run_module
    from dslnas.spaces.errors import UserError

    def broken(config: SearchConfig, on_step: object = None) -> Path:
        raise UserError("the base codec cannot be trained here")

    monkeypatch.setattr(run_module, "ensure_base_codec", broken)
    config = SearchConfig(study="fails", space=load_space(str(TINY_SPACE)), trials=2,
                          runs_root=str(tmp_path / "runs"), storage=f"sqlite:///{tmp_path / 'study.db'}")
    with pytest.raises(UserError):
        run_search(config)
    assert optuna.get_all_study_names(config.storage) == []


def test_a_failed_run_keeps_a_study_it_did_not_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dslnas.search.run as run_module
    from dslnas.search.study import open_study
    from dslnas.spaces.errors import UserError

    def broken(config: SearchConfig, on_step: object = None) -> Path:
        raise UserError("the base codec cannot be trained here")

    config = SearchConfig(study="kept", space=load_space(str(TINY_SPACE)), trials=2,
                          runs_root=str(tmp_path / "runs"), storage=f"sqlite:///{tmp_path / 'study.db'}")
    open_study(config)  # an earlier run (or another node) created it
    monkeypatch.setattr(run_module, "ensure_base_codec", broken)
    with pytest.raises(UserError):
        run_search(config)
    assert optuna.get_all_study_names(config.storage) == ["kept"]


@pytest.mark.parametrize("race", ["before the first write", "between the reason and the state"])
def test_two_workers_failing_the_same_dead_trial_at_once_queue_one_retry(tmp_path: Path, race: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers (two storages on one journal: two worker ids) both list the dead trial as stale before either
    fails it; the journal's replay orders their writes, so only the first fails it and queues its retry."""
    trial = _journal_study(tmp_path).ask()
    trial.suggest_float("x", 0.0, 1.0)
    _journal_study(tmp_path)._storage.set_trial_user_attr(trial._trial_id, ATTR_HEARTBEAT, time.time() - 10.0)
    first, second = _journal_study(tmp_path), _journal_study(tmp_path)
    hook = "set_trial_user_attr" if race == "before the first write" else "set_trial_state_values"
    real = getattr(second._storage, hook)
    interleaved: list[int] = []

    def the_other_worker_goes_first(*args: object, **kwargs: object) -> object:
        if not interleaved:
            interleaved.extend(fail_stale_journal_trials(first, grace_period_s=3))
        return real(*args, **kwargs)

    monkeypatch.setattr(second._storage, hook, the_other_worker_goes_first)
    assert fail_stale_journal_trials(second, grace_period_s=3) == [] and interleaved == [trial.number]
    trials = _journal_study(tmp_path).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[1].system_attrs["failed_trial"] == trial.number and trials[1].params == trials[0].params
