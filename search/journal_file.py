"""A journal file that a failed or killed write cannot make unreadable.

Optuna's journal is one JSON operation per line, appended under a lock. A write cut short (a full disk, a
kill in the middle of ``write``) leaves a line without its end; Optuna's reader then stops before it (the
operations in it are lost), and the next append glues a whole operation to the torn bytes, making a line
that is not JSON: from then on every read of the study fails.

- :class:`SafeJournalFileBackend` truncates the file back to its size before the write when the write
  fails, so a full disk leaves no torn bytes; the caller gets :class:`JournalDiskFull` (a UserError: one
  ``error:`` line naming the file and "disk full") for a full disk or quota, the ``OSError`` otherwise;
- :func:`set_aside_torn_tail` runs when a journal is opened: a torn last line (no end, or not JSON), or the
  torn prefix of a line glued to a complete operation by an earlier version, is copied to a side file
  ``<journal>.torn-<UTC time>`` and removed from the journal, with a one-line warning. Only bytes of
  writes that failed are set aside: every complete operation stays, so no completed trial is lost.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import get_lock_file

from dslnas.spaces.errors import UserError

OP_START = b'{"op_code":'   # how Optuna starts every operation it writes (json.dumps, compact separators)


class SafeJournalFileBackend(JournalFileBackend):
    """Optuna's journal file, whose failed appends leave the file as it was before them."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        with get_lock_file(self._lock):
            size_bytes = os.path.getsize(self._file_path)
            try:
                with open(self._file_path, "ab") as f:
                    f.write(text)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as err:
                os.truncate(self._file_path, size_bytes)  # shrinking needs no free space
                if err.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise JournalDiskFull(f"journal file {self._file_path}: disk full ({err.strerror}); the write "
                                          "was taken back, nothing completed is lost: free some space and rerun "
                                          "the same command to continue") from err
                raise


class JournalDiskFull(UserError, OSError):
    """A journal write that a full disk refused (taken back: the file is as it was before it). An OSError too,
    so code that outlives a failed write (the heartbeat thread) treats it as one."""


@dataclass(frozen=True)
class TornTail:
    """Bytes of failed writes taken out of a journal file."""

    journal: Path
    side_file: Path | None   # None: the bytes could not be saved (the reason is in ``note``)
    size_bytes: int
    note: str = ""

    def warning(self) -> str:
        kept = f"saved in {self.side_file}" if self.side_file else f"not saved: {self.note}"
        return (f"warning: journal file {self.journal} held {self.size_bytes} byte(s) of an unfinished write "
                f"(a full disk or a killed process); set aside ({kept}), every complete operation kept")


def set_aside_torn_tail(path: Path, lock: Any) -> TornTail | None:
    """Take the bytes of failed writes out of journal ``path`` (under its ``lock``); None if it is whole."""
    with get_lock_file(lock):
        with open(path, "rb") as f:
            lines = f.readlines()
        kept, torn = _split_torn(path, lines)
        if not torn:
            return None
        _rewrite(path, lines, kept)
    return _save_side_file(path, torn)


def _split_torn(path: Path, lines: list[bytes]) -> tuple[list[bytes], bytes]:
    """The complete lines of ``lines`` and the torn bytes taken out of them.

    A line is complete when it ends with a newline, starts an operation and holds exactly one. A line holding
    a torn prefix before a complete operation keeps the operation; the last line may be torn as a whole.
    Anything else (damage that is not a torn write) is a UserError naming the line."""
    kept, torn = [], b""
    for number, line in enumerate(lines, start=1):
        if line.endswith(b"\n") and line.startswith(OP_START) and line.count(OP_START) == 1:
            kept.append(line)
            continue
        start = line.rfind(OP_START)
        if start > 0 and line.endswith(b"\n") and _is_json(line[start:]):
            kept.append(line[start:])
            torn += line[:start]
        elif number == len(lines) and not (line.endswith(b"\n") and _is_json(line)):
            torn += line
        elif _is_json(line):
            kept.append(line)
        else:
            raise UserError(f"journal file {path} line {number} is damaged (not a torn write); "
                            "restore the file from a copy")
    return kept, torn


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def _rewrite(path: Path, lines: list[bytes], kept: list[bytes]) -> None:
    """Write ``kept`` over ``path``: truncation when only the tail goes, else a new file renamed over it."""
    if lines[: len(kept)] == kept:
        os.truncate(path, sum(len(line) for line in kept))
        return
    fresh = path.with_name(path.name + ".repair")
    try:
        with open(fresh, "wb") as f:
            f.writelines(kept)
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        fresh.unlink(missing_ok=True)
        raise UserError(f"journal file {path} holds a torn write and cannot be repaired here "
                        f"({err.strerror or type(err).__name__}); free some space and run again") from err
    os.replace(fresh, path)


def _save_side_file(path: Path, torn: bytes) -> TornTail:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1000):
        side = path.with_name(f"{path.name}.torn-{stamp}" + (f"-{n}" if n else ""))
        try:
            with open(side, "xb") as f:  # never over an earlier side file
                f.write(torn)
        except FileExistsError:
            continue
        except OSError as err:
            side.unlink(missing_ok=True)
            return TornTail(path, None, len(torn), err.strerror or type(err).__name__)
        return TornTail(path, side, len(torn))
    return TornTail(path, None, len(torn), "too many side files of the same second")


def open_safe_journal(path: Path) -> SafeJournalFileBackend:
    """The journal backend for ``path``, a torn tail set aside first (one warning line on stderr)."""
    backend = SafeJournalFileBackend(str(path))
    torn = set_aside_torn_tail(path, backend._lock)  # noqa: SLF001 - the backend's own lock
    if torn is not None:
        print(torn.warning(), file=sys.stderr)
    return backend
