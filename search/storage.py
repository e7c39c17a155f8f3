"""Optuna storage by URL: the one place that knows how a study is persisted.

- no URL: SQLite file ``runs/<study>/optuna.db`` (embedded, file-backed, with heartbeats);
- ``journal:///path/to/file.log`` or a path ending in ``.log``: a journal file, safe for several
  processes on one filesystem (Optuna's journal storage has no heartbeat: a killed worker's trial
  stays RUNNING until ``dslnas trials`` shows it; use SQLite or PostgreSQL for automatic retry);
- ``sqlite:///...``, ``postgresql://user@host/db`` (a cluster), any SQLAlchemy URL: an RDB storage.

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
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def study_dir(study_name: str, root: Path) -> Path:
    """Where a study's files (base codec, trial checkpoints, reports) live on this host (not created)."""
    return root / check_study_name(study_name)


def open_storage(url: str | None, study_name: str, heartbeat: HeartbeatSettings | None = None,
                 root: Path = Path(DEFAULT_RUNS_ROOT)) -> optuna.storages.BaseStorage:
    """The storage for ``url`` (see module docstring). Raises UserError for an unusable URL."""
    url = url or default_storage_url(study_name, root)
    if url.startswith("journal://") or url.endswith(".log"):
        path = Path(url.removeprefix("journal://"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    hb = heartbeat or HeartbeatSettings()
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            return _rdb_storage(url, hb)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Workers starting together on an empty database race to create Optuna's tables; the loser
            # sees a duplicate-key / already-exists error and finds the tables there on the next try.
            if attempt + 1 == SCHEMA_RACE_RETRIES:
                raise
            time.sleep(0.5 * (attempt + 1))
        except Exception as err:  # SQLAlchemy raises many types for a bad URL or unreachable server
            raise UserError(f"storage {url!r} cannot be opened: {str(err).splitlines()[0]}") from err
    raise AssertionError("unreachable")


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
    if url is not None and (url.startswith("journal://") or url.endswith(".log")) and not Path(url.removeprefix("journal://")).exists():
        raise UserError(f"no study {study_name!r}: journal file {url.removeprefix('journal://')} does not exist")
    storage = open_storage(url, study_name, root=root)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        raise UserError(f"no study {study_name!r} in {url or default_storage_path(study_name, root)}; studies there: {names or 'none'}") from None
