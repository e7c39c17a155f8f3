"""Search efficiency: hypervolume against trained candidates and against CPU-seconds, per sampler and seed.

Every run searches the same space from the same base codec with the same fine-tune; the hypervolume after k
trained candidates is taken over the feasible, fully trained (trained candidate, threshold) points of the
run's first k candidates, objectives minimised and scaled 0..1 over every point of every run of the bench,
reference 1.1 (so runs and samplers are comparable). CPU-seconds are those of this process and every process
it starts (``bench/cpu_tree.py``), read at each candidate's completion. Samplers: Optuna's ``random``,
``tpe``, ``gp``, ``nsga2`` at full fidelity, and ``mf``: TPE with Pareto successive halving on the fine-tune's
steps (``search.fidelity``; its low-rung points never count). Goals (issue 29): the best model-based
sampler after N candidates at least as good as random after 3N; ``mf`` at the best full-fidelity run's final
hypervolume in <= 50% of its CPU-seconds.

    .venv/bin/python bench/search_efficiency.py [--space demo] [--samplers random tpe gp nsga2 mf]
        [--seeds 0 1 2] [--max-candidates 16] [--steps 30] [--png docs/search-efficiency.png] [--json out.json]

Cost: samplers x seeds x max-candidates trials of ``--steps`` fine-tune steps plus each one's streaming
threshold sweep (ViSQOL-scored); about 20 s a candidate at 30 steps on 2 free cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import optuna

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_tree import CpuTreeMeter  # noqa: E402  (sibling script modules)
from rung_correlation import summary as rung_summary  # noqa: E402
from search_efficiency_report import MF_SCALED, multi_fidelity, report, write_png  # noqa: E402

from dslnas.search.config import DEFAULT_PROFILE, SearchConfig  # noqa: E402
from dslnas.search.dominance import minimised  # noqa: E402
from dslnas.search.pareto import compute_pareto_front  # noqa: E402
from dslnas.search.records import record_from_trial, role_of  # noqa: E402
from dslnas.search.report.metrics import REFERENCE_SCALED, hypervolume  # noqa: E402
from dslnas.search.run import run_search  # noqa: E402
from dslnas.spaces.run_config import LRSchedule  # noqa: E402
from dslnas.spaces.space import SearchSpace  # noqa: E402
from dslnas.spaces.space_presets import load_space  # noqa: E402

FULL_FIDELITY = ("random", "tpe", "gp", "nsga2")
MULTI_FIDELITY = "mf"
Values = tuple[float, ...]


@dataclass(frozen=True)
class Candidate:
    """One trained candidate of a run, in completion order: its fully trained feasible points (minimised
    objective values; empty for a low-rung or infeasible one) and the run's CPU-seconds when it completed."""

    number: int
    points: tuple[Values, ...]
    cpu_s: float
    full_fidelity: bool
    knobs: dict


@dataclass(frozen=True)
class Run:
    sampler: str
    seed: int
    candidates: tuple[Candidate, ...]
    cpu_s: float
    wall_s: float


def bench_space(name: str, steps: int, eval_fraction: float, oracle: bool) -> SearchSpace:
    """The space with its fine-tune at ``steps`` steps and a constant learning rate (what successive halving
    needs to continue a rung), ``eval_fraction`` of its corpus held out for scoring (the threshold sweep's
    ViSQOL is most of a cheap candidate's cost) and the oracle sweep only when asked for. Every sampler
    gets the same."""
    space = load_space(name)
    data = space.finetune.data.model_copy(update={"eval_fraction": eval_fraction})
    finetune = space.finetune.model_copy(update={"steps": steps, "lr_schedule": LRSchedule.CONSTANT, "data": data})
    return space.model_copy(update={"finetune": finetune, "oracle": oracle})


def search_config(space: SearchSpace, sampler: str, seed: int, trials: int, root: Path,
                  profile: str = DEFAULT_PROFILE) -> SearchConfig:
    study = f"eff-{sampler}-{seed}"
    extra = {}
    if multi_fidelity(sampler):  # mf-scaled: low rungs scored on fewer clips and thresholds (search.fidelity_eval)
        from dslnas.search.fidelity_config import FidelityConfig, LowRungEval, default_rungs

        low = LowRungEval.SCALED if sampler == MF_SCALED else LowRungEval.FULL
        extra = {"fidelity": FidelityConfig(rungs_steps=default_rungs(space.finetune.steps), low_rung_eval=low)}
    return SearchConfig(study=study, space=space, trials=trials, sampler="tpe" if multi_fidelity(sampler) else sampler,
                        seed=seed, runs_root=str(root), storage=f"sqlite:///{root / study}.db", profile=profile,
                        **extra)


def fully_trained(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a trained trial ran the full fine-tune (a multi-fidelity low rung's record carries its steps)."""
    record = record_from_trial(trial)
    return record is not None and record.fidelity_steps is None


def run_one(space: SearchSpace, sampler: str, seed: int, trials: int, root: Path, meter: CpuTreeMeter,
            profile: str = DEFAULT_PROFILE) -> Run:
    """One search; its trained candidates in completion order with the CPU-seconds spent by then."""
    config = search_config(space, sampler, seed, trials, root, profile)
    started_wall, started_cpu = time.time(), meter.sample()
    run_search(config)
    wall_s, cpu_s = time.time() - started_wall, meter.sample() - started_cpu
    study = optuna.load_study(study_name=config.study, storage=config.storage)
    front = compute_pareto_front(study)
    by_parent: dict[int, list[Values]] = {}
    for point in front.points:
        if point.feasible and getattr(point.record, "fidelity_steps", None) is None:
            by_parent.setdefault(point.trained_trial, []).append(minimised(point.values, front.objectives))
    trained = sorted((t for t in study.get_trials(deepcopy=False) if role_of(t).trained and t.datetime_complete),
                     key=lambda t: t.datetime_complete)
    candidates = tuple(Candidate(t.number, tuple(by_parent.get(t.number, ())),
                                 meter.cpu_at(t.datetime_complete.timestamp()) - started_cpu,
                                 fully_trained(t), dict(t.params)) for t in trained)
    return Run(sampler, seed, candidates, cpu_s, wall_s)


def scaler(runs: list[Run]):
    """Scale minimised values to 0..1 over every point of every run."""
    every = [v for r in runs for c in r.candidates for v in c.points]
    dims = len(every[0])
    lows = [min(v[i] for v in every) for i in range(dims)]
    spans = [(max(v[i] for v in every) - lows[i]) or 1.0 for i in range(dims)]
    return lambda v: tuple((x - lo) / s for x, lo, s in zip(v, lows, spans))


def history(run: Run, scale) -> list[tuple[int, float, float]]:
    """(fully trained candidates so far, CPU-seconds, hypervolume) after each candidate of ``run``."""
    seen: list[Values] = []
    rows, done = [], 0
    for candidate in run.candidates:
        seen += [scale(v) for v in candidate.points]
        done += candidate.full_fidelity
        dims = len(seen[0]) if seen else 2
        rows.append((done, candidate.cpu_s, hypervolume(seen, [REFERENCE_SCALED] * dims) if seen else 0.0))
    return rows


def depths_tried(runs: list[Run]) -> dict[str, Counter]:
    """Per sampler, how many fully trained candidates it drew at each switch depth (over its seeds)."""
    counts: dict[str, Counter] = {}
    for run in runs:
        counts.setdefault(run.sampler, Counter()).update(
            c.knobs.get("switch_depth") for c in run.candidates if c.full_fidelity)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="demo")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="device profile every run is priced on (runs priced on different profiles do not compare)")
    parser.add_argument("--samplers", nargs="+", default=[*FULL_FIDELITY, MULTI_FIDELITY],
                        help=f"also {MF_SCALED}: {MULTI_FIDELITY} with low rungs scored on fewer clips and thresholds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-candidates", type=int, default=16, help="trained candidates per run (N up to this)")
    parser.add_argument("--steps", type=int, default=30, help="fine-tune steps per candidate (the space's: 150)")
    parser.add_argument("--eval-fraction", type=float, default=0.1, help="corpus share scored (the space's: 0.3)")
    parser.add_argument("--oracle", action="store_true", help="also sweep the oracle router (off: it does not score)")
    parser.add_argument("--png", default="search-efficiency.png")
    parser.add_argument("--json", default=None, help="write every run here (after each run: a killed bench keeps them)")
    parser.add_argument("--from-json", default=None, help="only summarise the runs a previous --json holds")
    parser.add_argument("--runs-root", default=None, help="keep the studies here (default: a temporary folder)")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = load_runs(Path(args.from_json)) if args.from_json else collect(args)
    summary = summarise(runs, args.max_candidates, Path(args.png))
    summary.update(space=args.space, finetune_steps=args.steps, eval_fraction=args.eval_fraction, seeds=args.seeds,
                   max_candidates=args.max_candidates)
    if args.runs_root and any(multi_fidelity(r.sampler) for r in runs):  # per rung, from the mf studies
        summary["rank_correlation_per_rung"] = rung_summary(Path(args.runs_root))
    print(json.dumps(summary, indent=2))


def collect(args: argparse.Namespace) -> list[Run]:
    space = bench_space(args.space, args.steps, args.eval_fraction, args.oracle)
    if MULTI_FIDELITY in args.samplers and importlib.util.find_spec("dslnas.search.fidelity_run") is None:
        print("mf: the multi-fidelity search (search/fidelity_run.py) has not landed: not run", file=sys.stderr)
        args.samplers = [s for s in args.samplers if s != MULTI_FIDELITY]
    runs: list[Run] = []
    with CpuTreeMeter() as meter, tempfile.TemporaryDirectory() as tmp:
        root = Path(args.runs_root or tmp)
        root.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            for sampler in args.samplers:
                runs.append(run_one(space, sampler, seed, args.max_candidates, root, meter, args.profile))
                print(f"done {sampler} seed {seed}: {len(runs[-1].candidates)} candidates, {runs[-1].cpu_s:.0f} CPU-s, "
                      f"{runs[-1].wall_s:.0f} s, load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
                if args.json:
                    Path(args.json).write_text(json.dumps({"machine": machine(), "profile": args.profile, "runs": [asdict(r) for r in runs]}, indent=1))
    return runs


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"


def load_runs(path: Path) -> list[Run]:
    raw = json.loads(path.read_text())["runs"]
    return [Run(r["sampler"], r["seed"], tuple(Candidate(c["number"], tuple(tuple(v) for v in c["points"]), c["cpu_s"],
                                                         c["full_fidelity"], c["knobs"]) for c in r["candidates"]),
                r["cpu_s"], r["wall_s"]) for r in raw]


def summarise(runs: list[Run], max_candidates: int, png: Path) -> dict:
    """Print the table, draw the curves, -> the summary (goals included)."""
    scale = scaler(runs)
    histories = {(r.sampler, r.seed): history(r, scale) for r in runs}
    summary = report(histories, max_candidates, depths_tried(runs))
    summary["machine"] = machine() + " at the end"
    write_png(histories, png)
    print(f"wrote {png}", file=sys.stderr)
    return summary


if __name__ == "__main__":
    main()
