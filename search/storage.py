"""Optuna storage by URL: the one place that knows how a study is persisted.

- no URL: SQLite file ``runs/<study>/optuna.db`` (embedded, file-backed, with heartbeats);
- ``journal:///path/to/file.log`` or a path ending in ``.log``: a journal file, safe for several
  processes on one filesystem; a failed write (a full disk) leaves no torn line, and a torn line left by a
  killed writer is set aside when the journal is opened (``search.journal_file``). Optuna's journal storage has no heartbeat, so dslnas keeps its own
  (:class:`JournalHeartbeat`: a thread refreshes the running trial's user attr ``dslnas.heartbeat``) and a
  worker opening the study fails RUNNING trials whose beat is older than the grace period and re-queues
  them once (:func:`fail_stale_journal_trials`, as ``RetryHeartbeatStaleTrialCallback`` does on RDB);
- ``sqlite:///...``, ``postgresql://user@host/db`` (a cluster), any SQLAlchemy URL: an RDB storage. A bare
  ``postgresql://`` (or ``postgres://``) means psycopg2, the driver dslnas depends on (SQLAlchemy 2.1's
  default for it is psycopg 3); ``postgresql+<driver>://`` picks another.

RDB storages get a heartbeat, so a worker killed mid-trial has its trial marked FAIL after the grace
period and re-queued once (``RetryHeartbeatStaleTrialCallback``); completed trials are never touched.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from dslnas.search.config import DEFAULT_RUNS_ROOT, check_study_name
from dslnas.search.journal_file import open_safe_journal
from dslnas.search.records.attrs import ATTR_FAIL_REASON
from dslnas.spaces.errors import UserError

SCHEMA_RACE_RETRIES = 5
SQLITE_BUSY_TIMEOUT_S = 60.0
"""How long a SQLite write waits for another process's lock (the driver's default, 5 s, fails trials of
workers sharing a file on a loaded host with ``database is locked``)."""


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
        return JournalStorage(open_safe_journal(path))
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
            engine_kwargs={"pool_pre_ping": True, **_sqlite_connect_args(url)},
        )


def _sqlite_connect_args(url: str) -> dict[str, dict[str, float]]:
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if url.startswith("sqlite") else {}


def storage_failure(err: BaseException) -> str | None:
    """One line for a storage that failed under a command (a damaged SQLite file, a lost server), else None."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.DBAPIError):
            cause = str(seen.orig).strip().splitlines() or [type(seen.orig).__name__]
            return f"the study's storage failed: {cause[0]} (restore a damaged file from a copy)"
        seen = seen.__cause__ or seen.__context__
    if isinstance(err, optuna.exceptions.StorageInternalError):
        return f"the study's storage failed: {(str(err).strip().splitlines() or ['internal error'])[0]}"
    return None


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


# -- dslnas's heartbeat for journal storages ---------------------------------------------------------

ATTR_HEARTBEAT = "dslnas.heartbeat"   # running trial on a journal storage: wall-clock time of its last beat (s)
ATTR_STARTED = "dslnas.started"       # the trial's own number, once it passed the total check and trains


def needs_dslnas_heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    """Whether trials on ``storage`` need :class:`JournalHeartbeat` (RDB storages beat themselves)."""
    return isinstance(storage, JournalStorage)


class JournalHeartbeat:
    """While a trial runs, a daemon thread stamps ``dslnas.heartbeat`` on it every ``interval_s`` seconds
    (the first beat at once). A context manager: the beats stop when the block ends."""

    def __init__(self, trial: optuna.Trial, interval_s: float) -> None:
        self._trial, self._interval_s = trial, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"dslnas-heartbeat-{trial.number}", daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self._trial.storage.set_trial_user_attr(self._trial._trial_id, ATTR_HEARTBEAT, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # the trial ended (or another worker failed it as stale)
            except OSError:
                return  # the journal cannot be written (a full disk): the trial's own next write reports it
            if self._stop.wait(self._interval_s):
                return

    def __enter__(self) -> "JournalHeartbeat":
        self._trial.storage.set_trial_user_attr(self._trial._trial_id, ATTR_HEARTBEAT, time.time())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def last_beat_s(trial: optuna.trial.FrozenTrial) -> float:
    """Wall-clock time of a running trial's last sign of life: its dslnas heartbeat, else its start."""
    beat = trial.user_attrs.get(ATTR_HEARTBEAT)
    if beat is not None:
        return float(beat)
    return trial.datetime_start.timestamp() if trial.datetime_start else 0.0


def fail_stale_journal_trials(study: optuna.Study, grace_period_s: float, max_retry: int = 1) -> list[int]:
    """Fail the study's RUNNING trials whose heartbeat is older than ``grace_period_s`` and re-queue each
    once (up to ``max_retry`` times along its retry history). Returns the failed trial numbers.

    No-op on other storages. Safe with several workers: failing a trial that another worker already
    failed raises ``UpdateFinishedTrialError`` in the journal's replay, so only one of them re-queues it."""
    storage = study._storage
    if not needs_dslnas_heartbeat(storage):
        return []
    now = time.time()
    stale = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
             if now - last_beat_s(t) > grace_period_s]
    failed = []
    for trial in stale:
        try:
            storage.set_trial_user_attr(trial._trial_id, ATTR_FAIL_REASON,
                                        f"worker stopped beating (no heartbeat for {grace_period_s:g} s)")
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        failed.append(trial.number)
        _requeue(study, storage.get_trial(trial._trial_id), max_retry)
    return failed


def _requeue(study: optuna.Study, trial: optuna.trial.FrozenTrial, max_retry: int) -> None:
    """Queue ``trial`` again (same params and role) unless its retry history is full; the system attrs are
    those ``RetryHeartbeatStaleTrialCallback`` writes, so Optuna's retry helpers read them."""
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > max_retry:
        return
    user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in (ATTR_HEARTBEAT, ATTR_FAIL_REASON, ATTR_STARTED)}
    system_attrs = {**trial.system_attrs, "failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                    "retry_history": history}
    study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, params=trial.params,
                                              distributions=trial.distributions, user_attrs=user_attrs,
                                              system_attrs=system_attrs))
