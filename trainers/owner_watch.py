"""A helper process that exits when the process it works for is gone (pools whose owner may be killed)."""

from __future__ import annotations

import os
import threading
import time

OWNER_POLL_S = 1.0
"""How often a pool worker checks that the process that owns its pool is alive."""


def exit_with_owner(owner_pid: int) -> None:
    """Start a daemon thread that ends this process at once when process ``owner_pid`` is gone (a pool's
    workers, children of a forkserver, would otherwise outlive a killed owner, holding their memory)."""
    threading.Thread(target=_watch, args=(owner_pid,), name="owner-watch", daemon=True).start()


def _watch(owner_pid: int) -> None:
    while not _gone(owner_pid):
        time.sleep(OWNER_POLL_S)
    os._exit(0)


def _gone(pid: int) -> bool:
    """Process ``pid`` is dead: no such process (or another user's now), or a zombie not yet reaped."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b") ", 1)[-1][:1] == b"Z"
    except OSError:  # its entry just went (gone), or no /proc here (the signal probe alone)
        return os.path.isdir("/proc")
