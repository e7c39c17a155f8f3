"""Optuna storage by URL: the one place that knows how a study is persisted.

- no URL: SQLite file ``runs/<study>/optuna.db`` (embedded, file-backed, with heartbeats);
- ``journal:///path/to/file.log`` or a path ending in ``.log``: a journal file, safe for several
  processes on one filesystem (Optuna's journal storage has no heartbeat: a killed worker's trial
  stays RUNNING until ``dslnas trials`` shows it; use SQLite or PostgreSQL for automatic retry);
- ``sqlite:///...``, ``postgresql://user@host/db`` (a cluster), any SQLAlchemy URL: an RDB storage. A bare
  ``postgresql://`` (or ``postgres://``) means psycopg2, the driver dslnas depends on (SQLAlchemy 2.1's
  default for it is psycopg 3); ``postgresql+<driver>://`` picks another.

RDB storages get a heartbeat, so a worker killed mid-trial has its trial marked FAIL after the grace
period and re-queued once (``RetryHeartbeatStaleTrialCallback``); completed trials are never touched.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend

from dslnas.search.config import DEFAULT_RUNS_ROOT, check_study_name
from dslnas.spaces.errors import UserError

SCHEMA_RACE_RETRIES = 5


@dataclass(frozen=True)
class HeartbeatSettings:
    interval_s: int = 20
    grace_period_s: int = 60
    max_retry: int = 1


def default_storage_path(study_name: str, root: Path) -> Path:
    """The embedded SQLite file of a study: ``<root>/<study>/optuna.db``."""
    return (root / check_study_name(study_name) / "optuna.db").resolve()


def default_storage_url(study_name: str, root: Path) -> str:
    path = default_storage_path(study_name, root)
    _make_folder(path.parent, "runs folder")
    return f"sqlite:///{path}"


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
POSTGRES_DRIVER_SCHEME = "postgresql+psycopg2://"


def resolve_storage_url(url: str) -> str:
    """``url`` with a bare PostgreSQL scheme bound to psycopg2; every other URL unchanged."""
    for scheme in POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return POSTGRES_DRIVER_SCHEME + url[len(scheme):]
    return url


def is_journal_url(url: str) -> bool:
    return url.startswith("journal://") or url.endswith(".log")


def journal_path(url: str) -> Path:
    return Path(url.removeprefix("journal://"))


def shown_url(url: str) -> str:
    """``url`` for messages: any password replaced by ``***``."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # not an SQLAlchemy URL: nothing to hide that we can find
        return url


def _make_folder(folder: Path, what: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{what} {folder} cannot be created ({err.strerror or type(err).__name__})") from err


def study_dir(study_name: str, root: Path) -> Path:
    """Where a study's files (base codec, trial checkpoints, reports) live on this host (not created)."""
    return root / check_study_name(study_name)


def open_storage(url: str | None, study_name: str, heartbeat: HeartbeatSettings | None = None,
                 root: Path = Path(DEFAULT_RUNS_ROOT)) -> optuna.storages.BaseStorage:
    """The storage for ``url`` (see module docstring). Raises UserError for an unusable URL."""
    url = url or default_storage_url(study_name, root)
    if is_journal_url(url):
        return _journal_storage(journal_path(url))
    hb = heartbeat or HeartbeatSettings()
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            return _rdb_storage(resolve_storage_url(url), hb)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Workers starting together on an empty database race to create Optuna's tables; the loser
            # sees a duplicate-key / already-exists error and finds the tables there on the next try.
            if attempt + 1 == SCHEMA_RACE_RETRIES:
                raise
            time.sleep(0.5 * (attempt + 1))
        except Exception as err:  # SQLAlchemy raises many types for a bad URL or unreachable server
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserError(f"storage {shown_url(url)!r} cannot be opened: {first}") from err
    raise AssertionError("unreachable")


def _journal_storage(path: Path) -> JournalStorage:
    if path.is_dir():
        raise UserError(f"journal file {path} is a folder; give a file path (e.g. {path / 'optuna.log'})")
    _make_folder(path.parent, "journal folder")
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as err:
        raise UserError(f"journal file {path} cannot be opened ({err.strerror or type(err).__name__})") from err


def _rdb_storage(url: str, hb: HeartbeatSettings) -> RDBStorage:
    with warnings.catch_warnings():  # the heartbeat API is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RDBStorage(
            url,
            heartbeat_interval=hb.interval_s,
            grace_period=hb.grace_period_s,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=hb.max_retry),
            engine_kwargs={"pool_pre_ping": True},
        )


def load_existing_study(url: str | None, study_name: str, root: Path = Path(DEFAULT_RUNS_ROOT)) -> optuna.Study:
    """An existing study (for trials/report/confirm/export); a missing one is a UserError, and nothing is
    written looking for it (no folder, no empty database)."""
    if url is None and not default_storage_path(study_name, root).exists():
        raise UserError(f"no study {study_name!r}: {default_storage_path(study_name, root)} does not exist "
                        "(run `dslnas search` first, or pass --storage)")
    if url is not None and is_journal_url(url) and not journal_path(url).exists():
        raise UserError(f"no study {study_name!r}: journal file {journal_path(url)} does not exist")
    storage = open_storage(url, study_name, root=root)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        where = shown_url(url) if url else default_storage_path(study_name, root)
        raise UserError(f"no study {study_name!r} in {where}; studies there: {names or 'none'}") from None
