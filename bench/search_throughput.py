"""Search throughput on this machine, on the `demo` space (or --space):

- seconds per trained candidate, its sweep included (training / evaluation / ViSQOL / costing), and
  trained candidates per hour with 1 and 2 Optuna workers;
- front points per trained candidate (every swept threshold is a point) and ViSQOL seconds per point;
- streaming vs offline encoding time of the same clips (the price of running what a board runs).

The base codec is trained once (its time is printed separately) and shared by the runs, so the figures
are the per-trial cost a study pays after its first minutes.
Run: .venv/bin/python bench/search_throughput.py [--trials N] [--space demo] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import optuna

from dslnas.search.base_codec import ensure_base_codec
from dslnas.search.config import SearchConfig
from dslnas.search.records import record_from_trial
from dslnas.search.run import run_search
from dslnas.search.study import trained_trials
from dslnas.spaces.space_presets import load_space


def run_with_workers(space: str, workers: int, trials: int, root: Path, base_ckpt: Path) -> dict[str, float]:
    study = f"bench-{workers}w"
    config = SearchConfig(study=study, space=load_space(space), trials=trials, workers=workers,
                          runs_root=str(root), storage=f"sqlite:///{root / study}.db")
    target = config.study_root / "base_codec"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(base_ckpt, target / "checkpoint.pt")
    started = time.perf_counter()
    run_search(config)
    wall_s = time.perf_counter() - started
    loaded = optuna.load_study(study_name=study, storage=config.storage)
    done = trained_trials(loaded)
    points = len(loaded.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    timing = [asdict(record_from_trial(t).timing) for t in done]
    split = {k.removesuffix("_s"): round(float(np.mean([t[k] for t in timing])), 2) for k in timing[0]}
    return {"workers": workers, "trained_candidates": len(done), "front_points": points, "wall_s": round(wall_s, 1),
            "seconds_per_trained_candidate": split, "points_per_trained_candidate": round(points / len(done), 1),
            "visqol_s_per_point": round(split["visqol"] * len(done) / points, 2),
            "trained_candidates_per_hour": round(len(done) / wall_s * 3600, 1)}


def streaming_vs_offline_s(space: str, base_ckpt: Path, repeats: int = 3) -> dict[str, float]:
    """Encoder time of the evaluation clips: streaming (one tail per segment) vs one offline pass (both tails)."""
    import torch

    from dslnas.trainers.checkpoint import load_checkpoint
    from dslnas.trainers.codec import insert_dsl
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.streaming import StreamingEncoder

    search_space = load_space(space)
    candidate = search_space.base
    codec = insert_dsl(candidate, load_checkpoint(base_ckpt).model).eval()
    clips = load_dataset(search_space.finetune.data, candidate.encoder.sample_rate_hz, candidate.segment_samples)[:4]
    audio = [codec.pad(c.audio.reshape(1, 1, -1)) for c in clips]
    stream = StreamingEncoder(codec.encoder)
    with torch.no_grad():
        started = time.perf_counter()
        for _ in range(repeats):
            for a in audio:
                stream.encode(a)
        streaming = (time.perf_counter() - started) / repeats
        started = time.perf_counter()
        for _ in range(repeats):
            for a in audio:
                codec.encoder(a)
        offline = (time.perf_counter() - started) / repeats
    seconds = sum(a.shape[-1] for a in audio) / candidate.encoder.sample_rate_hz
    return {"audio_s": round(seconds, 2), "streaming_s": round(streaming, 3), "offline_s": round(offline, 3),
            "streaming_over_offline": round(streaming / offline, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--space", default="demo")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_config = SearchConfig(study="bench-base", space=load_space(args.space), runs_root=str(root))
        started = time.perf_counter()
        base_ckpt = ensure_base_codec(base_config)
        base_s = time.perf_counter() - started
        runs = [run_with_workers(args.space, w, args.trials, root, base_ckpt) for w in args.workers]
        encode = streaming_vs_offline_s(args.space, base_ckpt)
    rate = {r["workers"]: r["trained_candidates_per_hour"] for r in runs}
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "space": args.space,
        "base_codec_train_s": round(base_s, 1),
        "runs": runs,
        "speedup_2_workers": round(rate[2] / rate[1], 2) if {1, 2} <= set(rate) else None,
        "encoder_time": encode,
    }, indent=2))


if __name__ == "__main__":
    main()
