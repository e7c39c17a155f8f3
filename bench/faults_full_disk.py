"""Faults on purpose, a full disk (``python bench/faults.py --full-disk`` runs these).

A scenario puts the storage file on a small tmpfs (a mount namespace of its own: ``unshare -rm``) nearly
filled by a filler file, runs the search until the disk is full, frees the space, reruns the same command and
counts the columns of ``bench/faults.py`` ("kills" reads "full disk" when the first run failed on it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faults import FREE_BYTES_ON_DISK, GRACE_S, FaultRow, stderr_log, completed_numbers, measure, print_table, run_until, search_command

def full_disk_scenario(storage: str, workers: int, trials: int, root: Path, free_bytes: int = FREE_BYTES_ON_DISK,
                       timeout_s: float = 900.0) -> FaultRow:
    """Run :func:`_full_disk_child` in a mount namespace of its own (the tmpfs lives as long as it)."""
    cmd = ["unshare", "-rm", sys.executable, __file__, storage, str(workers), str(trials), str(root), str(free_bytes)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * timeout_s)
    print(out.stderr.strip(), file=sys.stderr, flush=True)
    if out.returncode != 0:
        raise RuntimeError(f"full-disk scenario {storage} x {workers} failed: {out.stderr.strip()[-500:]}")
    fields = json.loads(out.stdout.strip().splitlines()[-1])
    return FaultRow(**{**fields, "phases": tuple(fields["phases"])})


def _full_disk_child(storage: str, workers: int, trials: int, root: Path, free_bytes: int,
                     timeout_s: float = 900.0) -> None:
    disk = root / f"disk-{storage}-{workers}"
    disk.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    study = f"full-{storage}-{workers}"
    url = {"sqlite": f"sqlite:///{disk / 'study.db'}", "journal": str(disk / "study.log")}[storage]
    filler = disk / "filler"
    filler.write_bytes(b"0" * (shutil.disk_usage(disk).free - free_bytes))
    cwd = root / study
    cwd.mkdir(parents=True, exist_ok=True)
    cmd = search_command(study, url, trials, workers)
    first = stderr_log(cwd)
    with first.open("wb") as err:
        code = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout_s).returncode
    last_line = (first.read_text(errors="replace").strip().splitlines() or [""])[-1]
    print(f"  first run (disk {free_bytes} bytes free): exit {code}: {last_line}", file=sys.stderr, flush=True)
    filler.unlink()  # first: even reading a SQLite file needs room for its journal
    before = completed_numbers(url, study)
    time.sleep(GRACE_S + 1.5)
    run_until(cmd, cwd, None, timeout_s)
    row = measure(storage, workers, url, study, trials, ("full disk",) if code else (), before, cwd)
    print(json.dumps(row.__dict__))


def full_disk_rows(storages: list[str], workers_counts: list[int], trials: int, free_bytes: int) -> list[FaultRow]:
    disk_root, rows = Path(tempfile.mkdtemp(prefix="dslnas-full-disk-")), []
    for storage in storages:
        for workers in workers_counts:
            rows.append(full_disk_scenario(storage, workers, trials, disk_root, free_bytes))
            print_table(rows[-1:])
    shutil.rmtree(disk_root, ignore_errors=True)
    return rows


if __name__ == "__main__":  # the child, inside the mount namespace
    storage, workers, trials, root, free_bytes = sys.argv[1:6]
    _full_disk_child(storage, int(workers), int(trials), Path(root), int(free_bytes))
