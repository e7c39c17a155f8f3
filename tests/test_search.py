"""The search end to end on a tiny space: Optuna backend, failures, resume after SIGKILL, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from dslnas.search import trial as trial_module
from dslnas.search.cli import cli as app
from dslnas.search.config import DEFAULT_PROFILE, SearchConfig
from dslnas.search.records import ATTR_FAIL_REASON, Role, parent_of, record_from_trial, role_of
from dslnas.search.run import run_search
from dslnas.spaces.space_presets import load_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"
pytestmark = pytest.mark.slow


def tiny_config(tmp_path: Path, **changes: object) -> SearchConfig:
    settings: dict[str, object] = {"study": "tiny", "space": load_space(str(TINY_SPACE)), "trials": 4,
                                   "runs_root": str(tmp_path / "runs"), "storage": f"sqlite:///{tmp_path / 'study.db'}"}
    return SearchConfig(**{**settings, **changes})


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))


def test_optuna_search_records_every_trial_and_starts_from_the_references(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, trials=3)  # the reference and two sampled trials (4 before: CI time)
    statuses = []
    final = run_search(config, on_status=statuses.append).after
    assert final.complete == 3 and final.front_size >= 1
    assert statuses and statuses[-1].complete == 3
    study = optuna.load_study(study_name="tiny", storage=config.storage)
    trials = study.get_trials()
    assert role_of(trials[0]) is Role.REFERENCE
    baseline = [t for t in trials if role_of(t) is Role.BASELINE]
    assert len(baseline) == 1 and parent_of(baseline[0]) == 0  # the reference's full-only sweep point
    assert record_from_trial(baseline[0]).light_usage == 0.0
    assert record_from_trial(baseline[0]).visqol_mixed == pytest.approx(record_from_trial(baseline[0]).visqol_full)
    trained = [t for t in completed(study) if role_of(t).trained]
    assert len(trained) == 3
    for t in trained:  # every trained trial stores its other sweep points as trials of their own
        record = record_from_trial(t)
        points = [p for p in completed(study) if parent_of(p) == t.number]
        assert len(points) == len(record.sweep) - 1
        assert sorted([record.threshold] + [record_from_trial(p).threshold for p in points]) == [0.0, 0.5, 1.0]
        assert all(record_from_trial(p).checkpoint == record.checkpoint for p in points)
    for t in completed(study):
        record = record_from_trial(t)
        assert t.values == [record.visqol_mixed, record.latency_ms]
        assert [p.threshold for p in record.sweep] == [0.0, 0.5, 1.0]
        assert Path(record.checkpoint).exists()
        assert record.timing.train_s > 0 and record.timing.evaluate_s > 0 and record.timing.visqol_s > 0
        assert record.visqol_rules is not None and record.visqol_rules.scored > 0
        assert record.cost.latency_ms.light < record.cost.latency_ms.full
        assert record.cost.profile == DEFAULT_PROFILE and record.cost.latency_error_pct is not None  # calibrated
        assert record.execution == "streaming"
        assert set(record.evaluated) == set(record.visqol_per_class)  # what each class's quality was scored on
        assert all(c.clips > 0 and c.seconds > 0 for c in record.evaluated.values())
        assert record.evaluated == record_from_trial(trained[0]).evaluated  # one held-out set for the study
        point = next(p for p in record.sweep if p.threshold == record.threshold)
        assert (point.light_usage, point.visqol_mixed, point.latency_ms) == (record.light_usage, record.visqol_mixed, record.latency_ms)
    _trials_command_prints_every_trial_as_json(config, trained=3)
    # Running again with the same target does nothing; a higher target continues the same study.
    assert run_search(config).after.complete == 3
    assert run_search(config.model_copy(update={"trials": 4})).after.complete == 4


def test_a_failing_trial_is_recorded_with_its_reason_and_the_search_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = trial_module.TrialRunner.run

    calls: list[str] = []

    def flaky(self: trial_module.TrialRunner, candidate, key: str):  # noqa: ANN001
        calls.append(key)
        if len(calls) == 2:  # the first sampled trial after the reference
            raise FloatingPointError("training loss became nan")
        return real_run(self, candidate, key)

    monkeypatch.setattr(trial_module.TrialRunner, "run", flaky)
    config = tiny_config(tmp_path, trials=3)
    assert run_search(config).after.complete == 3
    study = optuna.load_study(study_name="tiny", storage=config.storage)
    failed = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 1
    assert "training loss became nan" in failed[0].user_attrs[ATTR_FAIL_REASON]


def _trials_command_prints_every_trial_as_json(config: SearchConfig, trained: int) -> None:
    """``trials --json`` on a finished study (the records test's: one tiny search fewer for CI)."""
    result = CliRunner().invoke(app, ["trials", "--study", "tiny", "--storage", config.storage, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["metric_names"] == ["visqol", "latency_ms"]
    assert {t["state"] for t in payload["trials"]} == {"COMPLETE"}
    assert sum(t["role"] in ("search", "reference") for t in payload["trials"]) == trained  # the rest are sweep points
    assert payload["trials"][0]["record"]["cost"]["latency_ms"]["full"] > 0


def test_search_cli_rejects_bad_input_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["search", "--space", "nosuch"])
    assert bad.exit_code != 0
    broken = tmp_path / "space.yaml"
    broken.write_text("switch_depths: []\n")
    result = subprocess.run([sys.executable, "-m", "dslnas.search", "search", "--space", str(broken)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "switch_depths" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _search_cmd(tmp_path: Path, storage: str, trials: int, study: str = "killme") -> list[str]:
    return [sys.executable, "-m", "dslnas.search", "search", "--space", str(TINY_SPACE), "--trials", str(trials),
            "--study", study, "--storage", storage, "--heartbeat-interval", "1", "--grace-period", "3"]


KILL_TRIALS = 4


def test_search_killed_mid_trial_loses_no_completed_trial(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'kill.db'}"
    # 4 trials, not 6 (CI time): killed with >= 2 done and one running, the rerun fails it and completes the rest
    proc = subprocess.Popen(_search_cmd(tmp_path, storage, KILL_TRIALS), cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    done_before: list[int] = []
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            trials = optuna.load_study(study_name="killme", storage=storage).get_trials()
        except KeyError:
            continue
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
        done_before = [t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE and role_of(t).trained]
        if len(done_before) >= 2 and running:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(done_before) >= 2, "search did not complete two trials in time"
    time.sleep(4)  # past the grace period: the killed trial's heartbeat is stale
    subprocess.run(_search_cmd(tmp_path, storage, KILL_TRIALS), cwd=tmp_path, check=True, capture_output=True)
    trials = optuna.load_study(study_name="killme", storage=storage).get_trials()
    complete = [t.number for t in trials if t.state == optuna.trial.TrialState.COMPLETE and role_of(t).trained]
    assert set(done_before) <= set(complete)
    assert len(complete) == KILL_TRIALS
    assert any(t.state == optuna.trial.TrialState.FAIL for t in trials)  # the killed one, marked by heartbeat


def test_journal_file_storage_holds_a_study(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, trials=2, storage=str(tmp_path / "journal.log"))
    assert run_search(config).after.complete == 2
    assert (tmp_path / "journal.log").stat().st_size > 0
    result = CliRunner().invoke(app, ["trials", "--study", "tiny", "--storage", str(tmp_path / "journal.log"), "--json"])
    listed = json.loads(result.stdout)["trials"]
    assert {t["state"] for t in listed} == {"COMPLETE"} and sum(t["role"] != "sweep" and t["role"] != "baseline" for t in listed) == 2


# Two local workers sharing a SQLite study (3 trials): test_search_backends.py::
# test_every_backend_leaves_the_same_record_fields[optuna] runs that very search and holds its assertions.
