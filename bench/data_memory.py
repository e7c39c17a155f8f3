"""Peak memory of indexing a dataset and drawing training batches, against the dataset's size.

Writes folders of cheap noise WAVs (10 s, 16-bit; two thirds at 16 kHz, one third at 44.1 kHz so that the
lazy resampling path is measured too) in ``<size>/speech|silence/`` under ``--root`` (default ``/tmp/dslnas-bench-data``; kept for reruns,
``--clean`` removes them), then, in a fresh process per size, indexes the folder as ``--data`` would, splits it
and draws ``--batches`` training batches of 8 x 0.8 s crops. Prints, per size, the peak RSS of that process,
its RSS after imports, the time to index, and what the same audio would take in memory as float32.
Run: .venv/bin/python bench/data_memory.py [--sizes 10m,1h,4h] [--batches 50]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

CLIP_SECONDS = 10.0
SAMPLE_RATE_HZ = 16_000


def parse_size_s(text: str) -> float:
    """``10m`` / ``1h`` / ``90s`` as seconds."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def make_folder(folder: Path, total_s: float) -> int:
    """Write ``total_s`` of noise clips into ``folder/<label>/`` (once); returns the number of files."""
    n_files = max(1, round(total_s / CLIP_SECONDS))
    done = folder / ".complete"
    if done.is_file():
        return n_files
    rng = np.random.default_rng(0)
    for index in range(n_files):
        rate_hz = 44_100 if index % 3 == 0 else SAMPLE_RATE_HZ
        samples = (rng.standard_normal(int(CLIP_SECONDS * rate_hz)) * 1000).astype(np.int16)
        label = "speech" if index % 2 == 0 else "silence"
        path = folder / label / f"{index:06d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(str(path), samples, rate_hz, subtype="PCM_16")
    done.write_text(str(n_files))
    return n_files


def measure(folder: Path, batches: int) -> dict[str, float]:
    """Run in this process: index, split and draw batches; the figures for this folder."""
    import torch

    from dslnas.trainers.data.layout import data_config_for
    from dslnas.trainers.data import load_dataset, random_crops, train_eval_split

    torch.set_num_threads(1)
    after_imports_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    cfg = data_config_for(folder)
    clips = load_dataset(cfg, SAMPLE_RATE_HZ, min_samples=int(0.8 * SAMPLE_RATE_HZ))
    train, held_out = train_eval_split(clips, cfg.eval_fraction, cfg.seed)
    index_s = time.perf_counter() - started
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(batches):
        random_crops(train, 8, int(0.8 * SAMPLE_RATE_HZ), generator)
    batch_s = (time.perf_counter() - started) / max(batches, 1)
    audio_s = sum(clip.num_samples for clip in clips) / SAMPLE_RATE_HZ
    return {
        "clips": len(clips), "hours": audio_s / 3600, "kind": cfg.kind.value,
        "after_imports_mib": after_imports_mib,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "index_s": index_s, "batch_ms": 1000 * batch_s,
        "eager_float32_mib": audio_s * SAMPLE_RATE_HZ * 4 / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10m,1h,4h")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--root", type=Path, default=Path("/tmp/dslnas-bench-data"))
    parser.add_argument("--clean", action="store_true", help="delete the generated folders afterwards")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batches)))
        return
    print(f"{'data':>6} {'clips':>6} {'hours':>6} {'after imports':>14} {'peak RSS':>9} {'index':>7} "
          f"{'batch':>8} {'eager f32':>10}")
    for size in args.sizes.split(","):
        folder = args.root / size
        make_folder(folder, parse_size_s(size))
        child = subprocess.run([sys.executable, __file__, "--measure", str(folder), "--batches", str(args.batches)],
                               capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{size:>6} {r['clips']:>6} {r['hours']:>6.2f} {r['after_imports_mib']:>10.0f} MiB "
              f"{r['peak_rss_mib']:>5.0f} MiB {r['index_s']:>6.2f}s {r['batch_ms']:>6.1f}ms "
              f"{r['eager_float32_mib']:>6.0f} MiB")
    if args.clean:
        shutil.rmtree(args.root, ignore_errors=True)


if __name__ == "__main__":
    main()
