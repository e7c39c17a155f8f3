"""Search throughput on this machine: seconds per trial (training / evaluation / ViSQOL / costing) and
trials per hour with 1 and 2 Optuna workers, on the `demo` space (or --space).

The base codec is trained once (its time is printed separately) and shared by both runs, so the
figures are the per-trial cost a study pays after its first minutes.
Run: .venv/bin/python bench/search_throughput.py [--trials N] [--space demo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from dslnas.search.base_codec import ensure_base_codec
from dslnas.search.config import SearchConfig
from dslnas.search.records import record_from_trial
from dslnas.search.run import run_search
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
    done = optuna.load_study(study_name=study, storage=config.storage).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    timing = [record_from_trial(t).timing_s for t in done]
    split = {k: round(float(np.mean([t[k] for t in timing])), 2) for k in ("train", "evaluate", "visqol", "cost")}
    return {"workers": workers, "trials": len(done), "wall_s": round(wall_s, 1),
            "seconds_per_trial": split, "trials_per_hour": round(len(done) / wall_s * 3600, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--space", default="demo")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_config = SearchConfig(study="bench-base", space=load_space(args.space), runs_root=str(root))
        started = time.perf_counter()
        base_ckpt = ensure_base_codec(base_config)
        base_s = time.perf_counter() - started
        runs = [run_with_workers(args.space, w, args.trials, root, base_ckpt) for w in (1, 2)]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "space": args.space,
        "base_codec_train_s": round(base_s, 1),
        "runs": runs,
        "speedup_2_workers": round(runs[1]["trials_per_hour"] / runs[0]["trials_per_hour"], 2),
    }, indent=2))


if __name__ == "__main__":
    main()
