"""Trial checkpoints in an artifact store every node reaches, in Optuna's own convention (``optuna.artifacts``).

A trained trial's checkpoint is written on the node that ran it (``<runs_root>/<study>/trials/<key>/``) and
uploaded to the study's artifact store: a folder on a shared filesystem (``FileSystemArtifactStore``, default
``<runs_root>/<study>/artifacts``) or an S3-compatible bucket (``s3://bucket/prefix``, ``Boto3ArtifactStore``;
``AWS_ENDPOINT_URL`` picks a non-AWS server). The artifact is linked from the trial as Optuna links it
(system attr ``artifacts:<id>``), its id is kept in the record (``TrialRecord.checkpoint_artifact``), and the
store's location in the study user attr ``dslnas.artifact_store``.

:func:`checkpoint_of` finds a trial's checkpoint from any machine that reaches the storage and the store:
the local file when this host has it, else a download into a cache folder. Sweep points resolve through
their parent (they share its checkpoint).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import ArtifactMeta, FileSystemArtifactStore, download_artifact, upload_artifact
from optuna.artifacts.exceptions import ArtifactNotFound

from dslnas.search.points import CandidatePoints
from dslnas.search.records import parent_of, record_from_trial
from dslnas.spaces.errors import UserError

STUDY_ATTR_ARTIFACT_STORE = "dslnas.artifact_store"
ARTIFACTS_ATTR_PREFIX = "artifacts:"  # Optuna's key for an artifact linked from a trial (optuna.artifacts._upload)
CHECKPOINT_MIMETYPE = "application/octet-stream"


def open_artifact_store(location: str) -> Any:
    """The artifact store at ``location`` (a folder, created if missing, or ``s3://bucket/prefix``)."""
    if location.startswith("s3://"):
        return _s3_store(location)
    folder = Path(location)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"artifact store {folder} cannot be created ({err.strerror or type(err).__name__})") from err
    return FileSystemArtifactStore(folder)


def check_artifact_store(location: str) -> None:
    """UserError unless the S3 store at ``location`` can be used: its bucket must exist and answer (checked
    before any training, not after each trained trial)."""
    if not location.startswith("s3://"):
        return  # a folder: created when the first trial uploads (preflight writes nothing)
    store = open_artifact_store(location)
    base = getattr(store, "_store", store)
    try:
        base.client.head_bucket(Bucket=base.bucket)
    except Exception as err:  # botocore raises ClientError, EndpointConnectionError, NoCredentialsError, ...
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(f"artifact store {location}: bucket {base.bucket!r} cannot be used ({first})") from err


def _s3_store(url: str) -> Any:
    try:
        import boto3
    except ImportError as err:
        raise UserError(f"artifact store {url} needs boto3 (pip install boto3)") from err
    from optuna.artifacts import Boto3ArtifactStore

    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise UserError(f"artifact store {url!r} names no bucket; use s3://bucket[/prefix]")
    client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
    store = Boto3ArtifactStore(bucket, client=client)
    return _PrefixedStore(store, prefix.strip("/")) if prefix.strip("/") else store


class _PrefixedStore:
    """An artifact store whose ids live under ``prefix/`` of another store (an S3 key prefix)."""

    def __init__(self, store: Any, prefix: str) -> None:
        self._store, self._prefix = store, prefix

    def open_reader(self, artifact_id: str) -> Any:
        return self._store.open_reader(f"{self._prefix}/{artifact_id}")

    def write(self, artifact_id: str, content_body: Any) -> None:
        self._store.write(f"{self._prefix}/{artifact_id}", content_body)

    def remove(self, artifact_id: str) -> None:
        self._store.remove(f"{self._prefix}/{artifact_id}")


def claim_study_store(study: optuna.Study, location: str) -> None:
    """Record ``location`` as the study's artifact store; a study keeps one store (UserError otherwise)."""
    stored = study.user_attrs.get(STUDY_ATTR_ARTIFACT_STORE)
    if stored is None:
        study.set_user_attr(STUDY_ATTR_ARTIFACT_STORE, location)
    elif stored != location:
        raise UserError(f"study {study.study_name!r} keeps its artifacts in {stored}; pass --artifacts {stored}")


def with_artifact(points: CandidatePoints, artifact_id: str) -> CandidatePoints:
    """``points`` with every record naming the uploaded checkpoint (sweep points share it)."""
    records = tuple(replace(r, checkpoint_artifact=artifact_id) for r in points.points)
    return CandidatePoints(records, points.own)


def upload_trial_checkpoint(store: Any, trial: optuna.Trial, points: CandidatePoints) -> CandidatePoints:
    """Upload the checkpoint of a running Optuna trial, linked from it; the points name the artifact."""
    path = Path(points.own_point.checkpoint)
    artifact_id = upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial,
                                  mimetype=CHECKPOINT_MIMETYPE)
    return with_artifact(points, artifact_id)


def write_checkpoint(store: Any, points: CandidatePoints) -> CandidatePoints:
    """Upload a checkpoint that no trial links yet (a Ray worker; the driver links it with :func:`link_attrs`)."""
    artifact_id = str(uuid.uuid4())
    with open(points.own_point.checkpoint, "rb") as body:
        store.write(artifact_id, body)
    return with_artifact(points, artifact_id)


def link_attrs(artifact_id: str, checkpoint: str) -> dict[str, str]:
    """The system attrs that link an uploaded artifact from a trial, as ``upload_artifact`` writes them."""
    meta = ArtifactMeta(artifact_id=artifact_id, filename=Path(checkpoint).name, mimetype=CHECKPOINT_MIMETYPE,
                        encoding=None)
    return {ARTIFACTS_ATTR_PREFIX + artifact_id: json.dumps(asdict(meta))}


def default_cache_dir() -> Path:
    """Where downloaded checkpoints are kept: ``$DSLNAS_CACHE`` or ``~/.cache/dslnas/artifacts``."""
    root = os.environ.get("DSLNAS_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dslnas"
    return Path(root) / "artifacts"


def checkpoint_of(study: optuna.Study, trial_number: int, cache_dir: Path | None = None,
                  store_location: str | None = None) -> Path:
    """The checkpoint of ``trial_number`` (sweep points: their parent's) as a file on this host.

    The trial's own file when this host has it, else the artifact downloaded into ``cache_dir``. UserError
    when the trial has none or neither is reachable."""
    trial = _trial(study, trial_number)
    parent = parent_of(trial)
    trained = trial if parent is None else _trial(study, parent)
    record = record_from_trial(trained)
    if record is None:
        raise UserError(f"trial {trained.number} has no dslnas record ({trained.state.name.lower()}); it has no checkpoint")
    if record.checkpoint and Path(record.checkpoint).is_file():
        return Path(record.checkpoint)
    if record.checkpoint_artifact is None:
        raise UserError(f"trial {trained.number}'s checkpoint {record.checkpoint} is not on this host and was "
                        "not uploaded to an artifact store")
    location = store_location or study.user_attrs.get(STUDY_ATTR_ARTIFACT_STORE)
    if location is None:
        raise UserError(f"study {study.study_name!r} names no artifact store; pass its location")
    return _download(location, record.checkpoint_artifact, cache_dir or default_cache_dir())


def _download(location: str, artifact_id: str, cache_dir: Path) -> Path:
    target = cache_dir / artifact_id / "checkpoint.pt"
    if target.is_file():
        return target
    if not location.startswith("s3://") and not Path(location).is_dir():
        raise UserError(f"artifact store {location} is not reachable from this host")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        download_artifact(artifact_store=open_artifact_store(location), file_path=str(partial), artifact_id=artifact_id)
    except ArtifactNotFound as err:
        raise UserError(f"checkpoint artifact {artifact_id} is not in the artifact store {location}") from err
    os.replace(partial, target)  # whole or absent: a reader never sees half a download
    return target


def _trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    trials = study.get_trials(deepcopy=False)
    if not 0 <= number < len(trials):
        raise UserError(f"study {study.study_name!r} has no trial {number} (trials: 0..{len(trials) - 1})")
    return trials[number]
