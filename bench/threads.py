"""Slowdown of one search trial next to one competing busy process: torch's default threads vs cores / 2.

Two workers on one host each leave torch at its default (every core) and oversubscribe the CPUs; dslnas
sets ``threads_per_worker`` = cores / local workers. This times one tiny-space trial alone and beside a
process that keeps torch busy with the same setting, and prints the slowdown of each.

    python bench/threads.py [--space tests/data/tiny-space.yaml] [--repeats 2]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

TINY_SPACE = Path(__file__).resolve().parent.parent / "tests" / "data" / "tiny-space.yaml"


def _busy(threads: int | None, stop: "mp.synchronize.Event") -> None:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    a = torch.randn(384, 384)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def _trial_seconds(config: object, base: Path, repeats: int, threads: int | None) -> float:
    import torch

    from dslnas.search.trial import TrialRunner

    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    runner = TrialRunner(config, base)  # type: ignore[arg-type]
    candidate = config.space.base  # type: ignore[attr-defined]
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        runner.run(candidate, f"threads-{threads}-{i}")
        times.append(time.perf_counter() - started)
    torch.set_num_threads(default)
    return statistics.median(times)


def measure(space: str, repeats: int) -> list[tuple[str, float, float]]:
    """(setting, seconds alone, seconds beside a busy process) for torch's default threads and cores / 2."""
    import torch

    from dslnas.search.base_codec import ensure_base_codec
    from dslnas.search.config import SearchConfig
    from dslnas.spaces.space_presets import load_space

    root = tempfile.mkdtemp(prefix="dslnas-threads-")
    config = SearchConfig(study="threads", space=load_space(space), runs_root=root)
    base = ensure_base_codec(config)
    half = max(1, len(os.sched_getaffinity(0)) // 2)
    rows = []
    for name, threads in ((f"torch default ({torch.get_num_threads()})", None), (f"cores/2 ({half})", half)):
        alone = _trial_seconds(config, base, repeats, threads)
        stop = mp.get_context("spawn").Event()
        rival = mp.get_context("spawn").Process(target=_busy, args=(threads, stop))
        rival.start()
        time.sleep(3.0)  # the rival has imported torch and is busy
        try:
            beside = _trial_seconds(config, base, repeats, threads)
        finally:
            stop.set()
            rival.join()
        rows.append((name, alone, beside))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=str(TINY_SPACE))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print("threads | trial alone s | beside a busy process s | slowdown")
    for name, alone, beside in measure(args.space, args.repeats):
        print(f"{name} | {alone:.2f} | {beside:.2f} | {beside / alone:.2f}x", flush=True)


if __name__ == "__main__":
    main()
