"""Search efficiency: hypervolume against trained candidates, TPE vs random search, several seeds.

Every run searches the same space from the same base codec (trained once); the hypervolume is taken over
all (trained candidate, threshold) points of a run, objectives minimised and scaled 0..1 over every point
of every run, reference point 1.1 (so the runs are comparable). The goal the issue sets: TPE after N
trained candidates at least as good as random search after 3N.

    .venv/bin/python bench/search_efficiency.py [--space demo] [--n 4] [--seeds 0 1 2]

It trains (n + 3n) x seeds candidates: about an hour on 2 cores for the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path

import optuna

from dslnas.search.base_codec import ensure_base_codec
from dslnas.search.config import SearchConfig
from dslnas.search.pareto import compute_pareto_front, minimised
from dslnas.search.report.metrics import REFERENCE_SCALED, hypervolume
from dslnas.search.run import run_search
from dslnas.spaces.space_presets import load_space


def run_study(space: str, sampler: str, seed: int, trials: int, root: Path, base_ckpt: Path) -> list[tuple[float, ...]]:
    """Minimised objective values of every feasible point of one run."""
    study = f"eff-{sampler}-{seed}"
    config = SearchConfig(study=study, space=load_space(space), trials=trials, sampler=sampler, seed=seed,
                          runs_root=str(root), storage=f"sqlite:///{root / study}.db")
    target = config.study_root / "base_codec"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(base_ckpt, target / "checkpoint.pt")
    run_search(config)
    front = compute_pareto_front(optuna.load_study(study_name=study, storage=config.storage))
    return [minimised(p.values, front.objectives) for p in front.points if p.feasible]


def scaled_hypervolumes(runs: dict[str, list[tuple[float, ...]]]) -> dict[str, float]:
    every = [v for values in runs.values() for v in values]
    dims = len(every[0])
    lows = [min(v[i] for v in every) for i in range(dims)]
    spans = [(max(v[i] for v in every) - lows[i]) or 1.0 for i in range(dims)]
    scale = lambda v: tuple((x - lo) / s for x, lo, s in zip(v, lows, spans))  # noqa: E731
    return {name: hypervolume([scale(v) for v in values], [REFERENCE_SCALED] * dims) for name, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="demo")
    parser.add_argument("--n", type=int, default=4, help="TPE's trained candidates (random gets 3n)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        base_ckpt = ensure_base_codec(SearchConfig(study="eff-base", space=load_space(args.space), runs_root=str(root)))
        runs = {}
        for seed in args.seeds:
            runs[f"tpe@{args.n}/seed{seed}"] = run_study(args.space, "tpe", seed, args.n, root, base_ckpt)
            runs[f"random@{3 * args.n}/seed{seed}"] = run_study(args.space, "random", seed, 3 * args.n, root, base_ckpt)
    volumes = scaled_hypervolumes(runs)
    tpe = [v for k, v in volumes.items() if k.startswith("tpe")]
    rnd = [v for k, v in volumes.items() if k.startswith("random")]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "space": args.space,
        "hypervolume": {k: round(v, 4) for k, v in volumes.items()},
        f"tpe_at_{args.n}_median": round(statistics.median(tpe), 4),
        f"random_at_{3 * args.n}_median": round(statistics.median(rnd), 4),
        "goal_met": statistics.median(tpe) >= statistics.median(rnd),
    }, indent=2))


if __name__ == "__main__":
    main()
