"""The ViSQOL scoring pool dies with the process that owns it (a killed search orphans no worker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

OWNER = """
import os, sys
import numpy as np
from dslnas.trainers.visqol_score import VisqolScorer

rng = np.random.default_rng(0)
ref = rng.normal(0.0, 0.1, 16_000)
scorer = VisqolScorer(workers=2)
scorer.score_many([(ref, ref + rng.normal(0.0, 0.01, ref.size))] * 2, 16_000)
print(*scorer._pool._processes, flush=True)
os.kill(os.getpid(), 9)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its reaper is gone too
        return f.read().split(") ")[-1][0] != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_a_killed_owner_takes_its_visqol_workers_down(tmp_path: Path) -> None:
    out = tmp_path / "workers.txt"
    with open(out, "w") as stdout:  # a file, not a pipe: the workers would hold a pipe open
        owner = subprocess.Popen([sys.executable, "-c", OWNER], stdout=stdout, stderr=subprocess.DEVNULL)
        assert owner.wait(timeout=600) == -9
    workers = [int(pid) for pid in out.read_text().split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(alive(pid) for pid in workers)


def test_a_zombie_or_reaped_owner_is_gone_and_a_live_one_is_not() -> None:
    from dslnas.trainers.owner_watch import _gone

    live = subprocess.Popen(["sleep", "30"])
    try:
        assert not _gone(live.pid) and not _gone(os.getpid())
    finally:
        live.kill()
    deadline = time.monotonic() + 10
    while not _gone(live.pid) and time.monotonic() < deadline:  # a zombie until reaped
        time.sleep(0.05)
    assert _gone(live.pid)
    live.wait()
    assert _gone(live.pid)
