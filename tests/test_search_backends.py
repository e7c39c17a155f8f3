"""Real backends: a local Ray instance runs a tiny search; two workers share a study on a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from dslnas.search.config import SearchConfig
from dslnas.search.backends import BACKENDS
from dslnas.search.fidelity import FidelityConfig
from dslnas.search.fidelity_state import rung_results, stored_brackets
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import ATTR_RECORD, ATTR_ROLE, Role, TrialRecord, record_from_trial, role_of
from dslnas.search.run import run_search
from dslnas.spaces.space_presets import load_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_leaves_the_same_record_fields(backend: str, tmp_path: Path) -> None:
    """The backend contract: a tiny search completes, stores typed records with the same JSON fields, the
    same first (reference, baseline) points, and values that are the records' objectives."""
    config = SearchConfig(study=f"tiny-{backend}", space=load_space(str(TINY_SPACE)), trials=3, backend=backend,
                          storage=f"sqlite:///{tmp_path / 'study.db'}", runs_root=str(tmp_path / "runs"), workers=2)
    if backend == "ray":
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        status = run_search(config).after
    finally:
        if backend == "ray":
            ray.shutdown()
    assert status.complete == 3
    study = optuna.load_study(study_name=config.study, storage=config.storage)
    trials = [t for t in study.get_trials() if t.state != optuna.trial.TrialState.PRUNED]  # "not run": total reached
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    roles = Counter(role_of(t) for t in trials)
    assert roles[Role.REFERENCE] == 1 and roles[Role.BASELINE] == 1
    # [optuna] is also the two-local-workers-on-SQLite test (it was test_search.py's, the same search): the
    # reference and baseline queued once over every trial; a worker that finds the total reached or running
    # starts nothing (its trial is pruned, not trained)
    stored_roles = Counter(t.user_attrs.get(ATTR_ROLE) for t in study.get_trials())
    assert stored_roles["reference"] == 1 and stored_roles["baseline"] == 1
    expected_fields = {f.name for f in dataclasses.fields(TrialRecord)}
    for t in trials:
        assert set(t.user_attrs[ATTR_RECORD]) == expected_fields
        record = record_from_trial(t)
        assert t.values == [record.visqol_mixed, record.latency_ms]
        sampled = config.space.candidate_from_params(config.space.used_params(t.params))
        assert record.candidate.dsl == sampled.dsl.model_copy(update={"threshold": record.threshold})  # its swept point
        assert record.candidate.encoder == sampled.encoder and record.candidate.quantizer == sampled.quantizer
        assert record.cost.latency_ms.light < record.cost.latency_ms.full


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_runs_the_pareto_multi_fidelity_search(backend: str, tmp_path: Path) -> None:
    """A bracket of 2 at 1 fine-tune step, the Pareto-better one continued to 2 (2 workers: rung jobs in
    parallel); the demoted candidate's points stay in the study, marked, and off the front."""
    config = SearchConfig(study=f"sh-{backend}", space=load_space(str(TINY_SPACE)), trials=2, backend=backend,
                          storage=f"sqlite:///{tmp_path / 'study.db'}", runs_root=str(tmp_path / "runs"), workers=2,
                          fidelity=FidelityConfig(rungs_steps=(1, 2), eta=2, bracket_size=2))
    if backend == "ray":
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert run_search(config).after.complete == 2  # the reference and the bracket's finalist
    finally:
        if backend == "ray":
            ray.shutdown()
    study = optuna.load_study(study_name=config.study, storage=config.storage)
    [bracket] = stored_brackets(study)
    assert len(rung_results(study, 0, 0)) == 2 and len(bracket.promoted[0]) == 1
    demoted = (set(bracket.members) - set(bracket.promoted[0])).pop()
    low = [t for t in study.get_trials() if (r := record_from_trial(t)) is not None and r.low_fidelity]
    assert demoted in {t.number for t in low} and all(record_from_trial(t).fidelity_steps == 1 for t in low)
    front = compute_pareto_front(study)
    assert front.pareto and all(not p.record.low_fidelity for p in front.points)


@pytest.mark.postgres
def test_two_workers_fill_one_postgres_study_without_losing_or_duplicating(postgres_url: str, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "dslnas.search", "search", "--space", str(TINY_SPACE), "--trials", "5",
           "--study", "shared", "--storage", postgres_url]
    workers = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    trials = optuna.load_study(study_name="shared", storage=postgres_url).get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and role_of(t).trained]
    assert len(complete) == 5  # workers sharing a study stop at its total exactly
    assert len({t.number for t in trials}) == len(trials)
    assert len({t._trial_id for t in trials}) == len(trials)
    roles = Counter(t.user_attrs.get(ATTR_ROLE) for t in trials)
    assert roles["reference"] == 1 and roles["baseline"] == 1  # queued once, run once
    checkpoints = [record_from_trial(t).checkpoint for t in complete]  # sweep points share their parent's
    assert len(set(checkpoints)) == len(checkpoints) and all(Path(c).exists() for c in checkpoints)


def test_search_cli_on_ray_prints_clean_json(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    cmd = [sys.executable, "-m", "dslnas.search", "search", "--space", str(TINY_SPACE), "--backend", "ray",
           "--trials", "2", "--study", "ray-cli", "--json"]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    status = json.loads(result.stdout)  # nothing but the JSON status on stdout
    assert status["complete"] == 2 and status["failed"] == 0
    assert (tmp_path / "runs" / "ray-cli" / "optuna.db").exists()


@pytest.mark.postgres
def test_workers_starting_together_on_an_empty_database_all_open_it(postgres_url: str, tmp_path: Path) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sqlalchemy.text("CREATE DATABASE fresh"))
    engine.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/fresh"
    go = tmp_path / "go"
    code = ("import os, time\nfrom dslnas.search.storage import open_storage\n"
            f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\nopen_storage({url!r}, 'race')")
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)]
    time.sleep(8)  # every process has imported and waits at the start line
    go.touch()
    results = [(p.wait(timeout=180), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 6, [err[-500:] for _, err in results]
