"""Faults on purpose: SIGKILL a search at chosen moments, rerun the same command, count what survived.

Each scenario (storage x workers) starts the ``dslnas search`` CLI in a session of its own, kills the whole
session with SIGKILL when a phase is under way (base codec training, a trial's fine-tune, its evaluation /
ViSQOL scoring, the storage write of its results, or a random moment), waits past the heartbeat grace
period, and reruns the same command (killing again, then once to the end). It prints one row per scenario:

kills, trained trials completed before the last kill and after, lost (completed before, gone after, or
whose checkpoint no longer resolves), duplicated (two completed trained trials with the same params,
whatever their trial keys, or a second reference), orphans (sweep points whose parent trial did not complete), trials left
RUNNING or WAITING, failed, whether the study reached its total, whether ``dslnas trials`` still reads it,
and how many runs printed a traceback (each run's stderr is logged; a failure must be one ``error:`` line).

    python bench/faults.py                        # sqlite, journal, postgres (if installed) x 1, 2 workers
    python bench/faults.py --storage journal --workers 1 --trials 2 --phases base,finetune@1
    python bench/faults.py --full-disk            # sqlite, journal x 1, 2 workers on a small tmpfs (unshare)

The full-disk scenarios are in ``bench/faults_full_disk.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from dslnas.search.artifacts import checkpoint_of
from dslnas.search.storage import open_storage
from dslnas.search.records import ATTR_FAIL_REASON, Role, parent_of, role_of
from dslnas.spaces.errors import UserError

TESTS = Path(__file__).resolve().parent.parent / "tests"
TINY_SPACE = TESTS / "data" / "tiny-space.yaml"
PHASES = ("base", "finetune", "evaluate", "storage-write", "random")
HEARTBEAT_S, GRACE_S = 1, 3


# -- when to kill ------------------------------------------------------------------------------------

def _files(study_root: Path, pattern: str) -> list[Path]:
    return list(study_root.glob(pattern))


def phase_reached(phase: str, study_root: Path, started: float, seen: set[Path], rng: random.Random) -> bool:
    """Whether ``phase`` is under way now for the search writing ``study_root`` (new files only count).
    ``<phase>@K``: only once K trial checkpoints are on disk (a kill after trials completed)."""
    phase, _, after = phase.partition("@")
    if len(_files(study_root, "trials/*/checkpoint.pt")) < int(after or 0):
        return False
    if phase == "base":
        return (study_root / "base_codec" / ".lock").exists() and not (study_root / "base_codec" / "checkpoint.pt").exists()
    if phase == "finetune":
        return any(not (d / "checkpoint.pt").exists() for d in _files(study_root, "trials/*") if d not in seen)
    if phase == "evaluate":   # a checkpoint just written: evaluation and ViSQOL scoring follow at once
        return any(p not in seen for p in _files(study_root, "trials/*/checkpoint.pt"))
    if phase == "storage-write":  # an artifact just uploaded: the record and the sweep trials are being written
        return any(p not in seen for p in _files(study_root, "artifacts/*"))
    return time.monotonic() - started > rng.uniform(3.0, 40.0)


def _known_files(study_root: Path) -> set[Path]:
    return {*_files(study_root, "trials/*"), *_files(study_root, "trials/*/checkpoint.pt"), *_files(study_root, "artifacts/*")}


def stderr_log(cwd: Path) -> Path:
    """A new file under ``cwd`` for the next run's stderr (run-1.stderr, run-2.stderr, ...)."""
    return cwd / f"run-{len(_files(cwd, 'run-*.stderr')) + 1}.stderr"


def run_until(cmd: list[str], cwd: Path, kill_when: Callable[[float], bool] | None, timeout_s: float) -> bool:
    """Run ``cmd`` in a session of its own (stderr to ``cwd/run-N.stderr``); SIGKILL the session once
    ``kill_when(started)``. True if killed."""
    log = stderr_log(cwd)
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    started = time.monotonic()
    while proc.poll() is None and time.monotonic() - started < timeout_s:
        if kill_when is not None and kill_when(started):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            print(f"  {log.name}: killed after {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            return True
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise TimeoutError(f"search did not finish in {timeout_s:.0f} s: {' '.join(cmd)}")
    last = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
    print(f"  {log.name}: exit {proc.returncode} after {time.monotonic() - started:.0f} s: {last}", file=sys.stderr, flush=True)
    return False


def tracebacks_in(cwd: Path) -> int:
    """Runs under ``cwd`` whose stderr holds a Python traceback (a failure must be one ``error:`` line)."""
    found = [f for f in sorted(_files(cwd, "run-*.stderr")) if "Traceback (most recent call last)" in f.read_text(errors="replace")]
    for f in found:  # the whole of it: the bench's folder is removed at the end
        print(f"  {f.name} holds a traceback:\n{f.read_text(errors='replace')[-6000:]}", file=sys.stderr, flush=True)
    return len(found)


def study_reads(url: str, study: str, cwd: Path) -> bool:
    """Whether ``dslnas trials`` lists the study as a user would: exit 0 and no traceback."""
    out = subprocess.run([sys.executable, "-m", "dslnas.search", "trials", "--study", study, "--storage", url],
                         cwd=cwd, capture_output=True, text=True, timeout=300)
    if out.returncode != 0 or "Traceback" in out.stderr:
        print(f"  dslnas trials: exit {out.returncode}: {out.stderr.strip()[-500:]}", file=sys.stderr, flush=True)
    return out.returncode == 0 and "Traceback" not in out.stderr


# -- what survived -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FaultRow:
    storage: str
    workers: int
    phases: tuple[str, ...]   # the phase of each kill that landed
    completed_before: int
    completed_after: int
    lost: int
    duplicated: int
    orphans: int
    running: int
    waiting: int              # trials queued (a retry) and never run: a duplicate retry would show here
    failed: int
    finished: bool
    reads: bool               # `dslnas trials` lists the study afterwards (exit 0, no traceback)
    tracebacks: int           # runs of the scenario whose stderr held a traceback instead of one error line


def _trained_complete(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    return [t for t in trials if t.state == TrialState.COMPLETE and role_of(t).trained]


def completed_numbers(url: str, study: str) -> set[int]:
    try:
        return {t.number for t in _trained_complete(optuna.load_study(study_name=study, storage=open_storage(url, study)).get_trials())}
    except KeyError:
        return set()


def print_trained(trials: list[optuna.trial.FrozenTrial]) -> None:
    """The trained trials, one line each (number, state, role, the trial it retries, its reason): the log's evidence."""
    for t in trials:
        if role_of(t).trained:
            retry = t.system_attrs.get("failed_trial")
            print(f"  trial {t.number} {t.state.name} {role_of(t).value}" + (f" retry of {retry}" if retry is not None else "")
                  + f" {json.dumps(t.params, sort_keys=True)[:80]} {t.user_attrs.get(ATTR_FAIL_REASON, '')[:120]}",
                  file=sys.stderr, flush=True)


def measure(storage: str, workers: int, url: str, study_name: str, target: int, phases: tuple[str, ...],
            before: set[int], cwd: Path) -> FaultRow:
    study = optuna.load_study(study_name=study_name, storage=open_storage(url, study_name))
    trials = study.get_trials()
    done = _trained_complete(trials)
    unreachable = 0
    for t in done:
        try:
            checkpoint_of(study, t.number)
        except UserError:
            unreachable += 1
    keys = Counter(json.dumps(t.params, sort_keys=True) for t in done)  # one configuration trained twice
    print_trained(trials)
    references = sum(role_of(t) is Role.REFERENCE for t in done)
    complete_numbers = {t.number for t in done}
    orphans = sum(1 for t in trials if t.state == TrialState.COMPLETE and parent_of(t) is not None
                  and parent_of(t) not in complete_numbers)
    return FaultRow(storage, workers, phases, len(before), len(done), len(before - complete_numbers) + unreachable,
                    sum(n - 1 for n in keys.values()) + max(0, references - 1), orphans,
                    sum(t.state == TrialState.RUNNING for t in trials), sum(t.state == TrialState.WAITING for t in trials),
                    sum(t.state == TrialState.FAIL and role_of(t).trained for t in trials), len(done) >= target,
                    study_reads(url, study_name, cwd), tracebacks_in(cwd))


def search_command(study: str, url: str, trials: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "dslnas.search", "search", "--space", str(TINY_SPACE), "--trials", str(trials),
            "--study", study, "--storage", url, "--workers", str(workers),
            "--heartbeat-interval", str(HEARTBEAT_S), "--grace-period", str(GRACE_S)]


def run_scenario(storage: str, url: str, workers: int, kills: list[str], trials: int, root: Path,
                 rng: random.Random, timeout_s: float = 900.0) -> FaultRow:
    study = f"faults-{storage}-{workers}"
    cwd = root / study
    cwd.mkdir(parents=True, exist_ok=True)
    study_root = cwd / "runs" / study
    cmd = search_command(study, url, trials, workers)
    landed: list[str] = []
    before: set[int] = set()
    for phase in kills:
        seen = _known_files(study_root)
        if run_until(cmd, cwd, lambda started: phase_reached(phase, study_root, started, seen, rng), timeout_s):
            landed.append(phase)
            before = completed_numbers(url, study)
        time.sleep(GRACE_S + 1.5)  # past the grace period: the killed trials' heartbeats are stale
    run_until(cmd, cwd, None, timeout_s)
    return measure(storage, workers, url, study, trials, tuple(landed), before, cwd)


FREE_BYTES_ON_DISK = 120_000
"""Room a full-disk scenario's storage file has to grow before the disk is full (bench/faults_full_disk.py)."""


def print_table(rows: list[FaultRow]) -> None:
    head = ("storage", "workers", "kills (phase)", "done before", "done after", "lost", "dup", "orphans", "running", "waiting",
            "failed", "finished", "reads", "tracebacks")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(str(v) for v in (r.storage, r.workers, f"{len(r.phases)} ({', '.join(r.phases)})", r.completed_before,
                                          r.completed_after, r.lost, r.duplicated, r.orphans, r.running, r.waiting, r.failed,
                                          "yes" if r.finished else "NO", "yes" if r.reads else "NO", r.tracebacks)), flush=True)


def _kill_phases(phases: str | None, turn: int, kills: int) -> list[str]:
    """The phases to kill in: ``--phases`` as given, else ``kills`` of PHASES taken in turn (base first)."""
    if phases is None:
        return sorted((PHASES[(turn + i) % len(PHASES)] for i in range(kills)), key=lambda p: p != "base")
    chosen = phases.split(",")
    unknown = [p for p in chosen if p.partition("@")[0] not in PHASES or not p.partition("@")[2].isdigit() and "@" in p]
    if unknown:
        raise SystemExit(f"error: unknown phase {unknown[0]!r} (choose from {', '.join(PHASES)})")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", action="append", choices=("sqlite", "journal", "postgres"))
    parser.add_argument("--workers", action="append", type=int)
    parser.add_argument("--kills", type=int, default=2, help="kills per scenario (phases taken in turn)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-disk", action="store_true", help="the full-disk scenarios (sqlite, journal) instead")
    parser.add_argument("--free-bytes", type=int, default=FREE_BYTES_ON_DISK, help="--full-disk: room left on the disk")
    parser.add_argument("--phases", help=f"comma-separated kill phases instead of taking them in turn ({', '.join(PHASES)}; "
                        "<phase>@K: once K trial checkpoints exist)")
    args = parser.parse_args()
    if args.full_disk:
        from faults_full_disk import full_disk_rows  # bench/ is on the path: this script's folder

        rows = full_disk_rows(args.storage or ["sqlite", "journal"], args.workers or [1, 2], args.trials, args.free_bytes)
    else:
        rows = kill_rows(args)
    print()
    print_table(rows)


def kill_rows(args: argparse.Namespace) -> list[FaultRow]:
    rng, root = random.Random(args.seed), Path(tempfile.mkdtemp(prefix="dslnas-faults-"))
    rows, turn = [], 0
    sys.path.insert(0, str(TESTS))  # the tests' throwaway PostgreSQL server
    from pg_server import postgres_server

    with postgres_server() as pg_url:
        for storage in args.storage or ["sqlite", "journal", "postgres"]:
            for workers in args.workers or [1, 2]:
                url = {"sqlite": f"sqlite:///{root / f'{storage}-{workers}.db'}", "journal": str(root / f"{storage}-{workers}.log"),
                       "postgres": pg_url}[storage]
                if url is None:
                    print("skip postgres: server not installed", file=sys.stderr)
                    continue
                kills = _kill_phases(args.phases, turn, args.kills)
                print(f"== {storage} x {workers} worker(s), kills in: {', '.join(kills)}", file=sys.stderr, flush=True)
                turn += args.kills
                rows.append(run_scenario(storage, url, workers, kills, args.trials, root, rng))
                print_table(rows[-1:])
    shutil.rmtree(root, ignore_errors=True)
    return rows

if __name__ == "__main__":
    main()
