"""CPU-seconds of this process and every process it starts (ViSQOL pools, search workers), from /proc.

A search's work is spread over child processes that are not always waited for (a scorer pool outlives a
trial; its workers exit when their owner is gone), so ``resource.getrusage(RUSAGE_CHILDREN)`` misses some
of it. :class:`CpuTreeMeter` samples ``utime + stime`` of this process and of every descendant alive every
``period_s`` in a thread, keeps each process's last reading after it exits, and answers "how many
CPU-seconds had the tree used at wall time t" by interpolating its samples. A process that starts and
exits between two samples is missed (at most ``period_s`` of CPU each). Linux only.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, utime + stime in seconds, start time in ticks) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_S, int(fields[19])


class CpuTreeMeter:
    """Samples the CPU-seconds of the process tree rooted here; use as a context manager."""

    def __init__(self, period_s: float = 0.25) -> None:
        self.period_s = period_s
        self._root = os.getpid()
        self._last: dict[tuple[int, int], float] = {}  # (pid, start) -> latest CPU-seconds (kept after exit)
        self._times: list[float] = []
        self._totals: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> "CpuTreeMeter":
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.sample()

    def sample(self) -> float:
        """Read the tree now; -> its cumulative CPU-seconds."""
        parents: dict[int, tuple[int, float, int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _stat(int(entry))
                if stat is not None:
                    parents[int(entry)] = stat
        in_tree = {self._root}
        changed = True
        while changed:  # descendants: a fixed point over the parent links
            changed = False
            for pid, (ppid, _, _) in parents.items():
                if ppid in in_tree and pid not in in_tree:
                    in_tree.add(pid)
                    changed = True
        with self._lock:
            for pid in in_tree:
                if pid in parents:
                    _, cpu_s, start = parents[pid]
                    self._last[(pid, start)] = max(self._last.get((pid, start), 0.0), cpu_s)
            total = sum(self._last.values())
            self._times.append(time.time())
            self._totals.append(total)
        return total

    def cpu_at(self, wall_time_s: float) -> float:
        """Cumulative CPU-seconds of the tree at ``wall_time_s`` (seconds since the epoch), interpolated."""
        with self._lock:
            times, totals = list(self._times), list(self._totals)
        i = bisect.bisect_left(times, wall_time_s)
        if i <= 0:
            return totals[0]
        if i >= len(times):
            return totals[-1]
        t0, t1 = times[i - 1], times[i]
        share = (wall_time_s - t0) / (t1 - t0) if t1 > t0 else 1.0
        return totals[i - 1] + share * (totals[i] - totals[i - 1])
