"""Checkpoints any node can reach: the artifact store, ``checkpoint_of``, and a real two-node Ray cluster."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import pytest
from optuna.artifacts import get_all_artifact_meta
from optuna.trial import TrialState, create_trial

from dslnas.search.artifacts import (
    STUDY_ATTR_ARTIFACT_STORE, checkpoint_of, claim_study_store, link_attrs, open_artifact_store, upload_trial_checkpoint,
    write_checkpoint,
)
from dslnas.search.points import CandidatePoints
from dslnas.search.records import Role, record_attrs, record_from_trial, role_attrs
from dslnas.spaces.errors import UserError
from study_fixtures import make_record, tiny_candidate

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def _points(checkpoint: Path) -> CandidatePoints:
    record = make_record(tiny_candidate(), 0.5, 4.4, 4.3)
    other = make_record(tiny_candidate(threshold=0.6), 0.7, 4.4, 4.2)
    return CandidatePoints(tuple(r.__class__(**{**r.__dict__, "checkpoint": str(checkpoint)}) for r in (record, other)), 0)


def _study_with_uploaded_trial(tmp_path: Path, store_dir: Path) -> tuple[optuna.Study, bytes]:
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    claim_study_store(study, str(store_dir))
    node = tmp_path / "node-a" / "trials" / "00000"
    node.mkdir(parents=True)
    (node / "checkpoint.pt").write_bytes(b"weights of trial 0")
    trial = study.ask()
    points = upload_trial_checkpoint(open_artifact_store(str(store_dir)), trial, _points(node / "checkpoint.pt"))
    for key, value in record_attrs(points.own_point).items():
        trial.set_user_attr(key, value)
    study.tell(trial, 1.0)
    sweep = points.points[1]
    study.add_trial(create_trial(value=2.0, user_attrs={**record_attrs(sweep), **role_attrs(Role.SWEEP, 0)}))
    return study, b"weights of trial 0"


def test_a_checkpoint_is_found_on_this_host_or_downloaded_from_the_store(tmp_path: Path) -> None:
    store = tmp_path / "shared" / "artifacts"
    study, body = _study_with_uploaded_trial(tmp_path, store)
    trained = study.get_trials()[0]
    record = record_from_trial(trained)
    assert record.checkpoint_artifact is not None
    assert [m.artifact_id for m in get_all_artifact_meta(trained, storage=study._storage)] == [record.checkpoint_artifact]
    assert checkpoint_of(study, 0) == Path(record.checkpoint)  # on the node that trained it
    shutil.rmtree(tmp_path / "node-a")                        # any other node: downloaded into the cache
    found = checkpoint_of(study, 1, cache_dir=tmp_path / "cache")  # a sweep point resolves through its parent
    assert found.parent.parent == tmp_path / "cache" and found.read_bytes() == body
    assert checkpoint_of(study, 0, cache_dir=tmp_path / "cache") == found
    with pytest.raises(UserError, match="keeps its artifacts"):
        claim_study_store(study, str(tmp_path / "elsewhere"))
    shutil.rmtree(store)
    with pytest.raises(UserError, match="not reachable"):
        checkpoint_of(study, 0, cache_dir=tmp_path / "other-cache")
    with pytest.raises(UserError, match="no trial 7"):
        checkpoint_of(study, 7)


def test_a_ray_workers_upload_is_linked_by_the_driver_as_optuna_links_it(tmp_path: Path) -> None:
    ckpt = tmp_path / "checkpoint.pt"
    ckpt.write_bytes(b"ray weights")
    points = write_checkpoint(open_artifact_store(str(tmp_path / "store")), _points(ckpt))
    artifact = points.own_point.checkpoint_artifact
    assert all(r.checkpoint_artifact == artifact for r in points.points)
    study = optuna.create_study(study_name="r", storage=f"sqlite:///{tmp_path / 'r.db'}")
    study.add_trial(create_trial(value=1.0, user_attrs=record_attrs(points.own_point),
                                 system_attrs=link_attrs(artifact, str(ckpt))))
    metas = get_all_artifact_meta(study.get_trials()[0], storage=study._storage)
    assert [(m.artifact_id, m.filename) for m in metas] == [(artifact, "checkpoint.pt")]


# -- a real two-node Ray cluster on this machine, a real PostgreSQL study, a filesystem artifact store ----

def _ray(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "ray"), *args], env=env, capture_output=True, text=True,
                          timeout=180)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_two_node_ray_cluster_fills_a_postgres_study_and_any_process_finds_every_checkpoint(
        tmp_path: Path, postgres_url: str) -> None:
    pytest.importorskip("ray")
    from dslnas.search.records import role_of

    with socket.socket() as sock:  # a free port: a stale GCS of another run on a fixed port refuses our nodes
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # A local test cluster without token auth (Ray 2.60 turns it on for `ray start --head` by default).
    env = {**os.environ, "RAY_DISABLE_USAGE_STATS": "1", "RAY_AUTH_MODE": "disabled"}
    temps = [Path(tempfile.mkdtemp(prefix=f"ray-{n}-", dir="/tmp")) for n in ("head", "worker")]
    url = postgres_url  # the session's server (conftest.py)
    head = _ray("start", "--head", f"--port={port}", "--num-cpus=1", f"--temp-dir={temps[0]}", "--include-dashboard=false",
                env=env)
    assert head.returncode == 0, head.stderr[-1500:]
    try:
        worker = _ray("start", f"--address=127.0.0.1:{port}", "--num-cpus=1", f"--temp-dir={temps[1]}", env=env)
        assert worker.returncode == 0, worker.stderr[-1500:]
        artifacts = tmp_path / "shared-artifacts"
        code = (
            "from dslnas.search.config import SearchConfig\nfrom dslnas.search.run import run_search\n"
            "from dslnas.spaces.space_presets import load_space\n"
            f"c = SearchConfig(study='two-nodes', space=load_space({str(TINY_SPACE)!r}), trials=3, backend='ray', "
            f"storage={url!r}, ray_address='127.0.0.1:{port}', workers=2, artifact_store={str(artifacts)!r}, "
            f"runs_root={str(tmp_path / 'runs')!r})\nprint(run_search(c).after.complete)\n")
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0 and done.stdout.strip().endswith("3"), done.stderr[-3000:]
        nodes = {p.parent.parent.name for t in temps for p in t.glob("session_*/logs/worker-*.out")}
        assert len([t for t in temps if any(t.glob("session_*/logs/worker-*"))]) == 2, nodes  # both nodes ran workers
    finally:
        _ray("stop", "--force", env=env)
    # a third process, with the trial folders gone, finds every checkpoint through the store
    shutil.rmtree(tmp_path / "runs" / "two-nodes" / "trials", ignore_errors=True)
    check = ("import optuna, sys\nfrom dslnas.search.artifacts import checkpoint_of\nfrom dslnas.search.export import export_run_config\n"
             f"s = optuna.load_study(study_name='two-nodes', storage={url!r})\n"
             "done = [t.number for t in s.get_trials() if t.state.name == 'COMPLETE']\n"
             f"paths = [checkpoint_of(s, n, cache_dir=__import__('pathlib').Path({str(tmp_path / 'cache')!r})) for n in done]\n"
             "print(len(done), len(set(paths)), export_run_config(s, done[0], fetch_checkpoint=True).provenance['trial_checkpoint'])\n")
    third = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    n_done, n_paths, exported = third.stdout.split()
    assert int(n_done) >= 3 and int(n_paths) == 3 and Path(exported).is_file()
    study = optuna.load_study(study_name="two-nodes", storage=url)
    assert sum(role_of(t).trained and t.state == TrialState.COMPLETE for t in study.get_trials()) == 3
    assert study.user_attrs[STUDY_ATTR_ARTIFACT_STORE] == str(artifacts.resolve())


def test_an_s3_store_on_a_local_s3_server_holds_and_returns_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The S3 option against moto's S3-compatible server on loopback: upload on one node, fetch on another."""
    boto3 = pytest.importorskip("boto3")
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        pytest.skip("moto's server is not installed (pip install 'moto[server]')")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([str(server), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for name, value in (("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "testing"),
                            ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(name, value)
        for _ in range(100):
            try:
                boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="dslnas")
                break
            except Exception:  # the server is still starting
                time.sleep(0.2)
        study, body = _study_with_uploaded_trial(tmp_path, "s3://dslnas/studies")
        shutil.rmtree(tmp_path / "node-a")  # the node that trained it is gone
        found = checkpoint_of(study, 1, cache_dir=tmp_path / "cache")  # a sweep point, through its parent
        assert found.read_bytes() == body
        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="dslnas")["Contents"]]
        assert keys and all(k.startswith("studies/") for k in keys)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
