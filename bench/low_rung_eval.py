"""What a cheaper low-rung evaluation saves: one candidate at a multi-fidelity search's first rung, scored as
today (``low_rung_eval: full``: every evaluation clip, the whole threshold sweep) and scaled
(``search.fidelity_eval``: the rung's share of the clips, fewer thresholds), each in a fresh trial runner.

The space is the search-efficiency bench's (``bench/search_efficiency.py``: ``--steps`` fine-tune steps,
constant learning rate, ``--eval-fraction`` of the corpus scored, no oracle sweep); the rungs are
``default_rungs(--steps)``. CPU-seconds are this process's and its children's (ViSQOL pool), from /proc
(``bench/cpu_tree.py``), per mode: training the rung's steps, set-up and evaluation together.

    nice -n 10 .venv/bin/python bench/low_rung_eval.py [--space demo] [--steps 30] [--eval-fraction 0.1]
        [--modes full scaled] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_tree import CpuTreeMeter  # noqa: E402  (sibling script modules)
from search_efficiency import bench_space  # noqa: E402

from dslnas.search.base_codec import ensure_base_codec  # noqa: E402
from dslnas.search.config import SearchConfig  # noqa: E402
from dslnas.search.fidelity_config import FidelityConfig, LowRungEval, default_rungs  # noqa: E402
from dslnas.search.trial import TrialRunner  # noqa: E402


def one_rung(config: SearchConfig, steps: int, meter: CpuTreeMeter) -> dict:
    """Train and score the space's reference candidate at ``steps`` in a fresh runner; -> its costs and what it scored."""
    base = ensure_base_codec(config)
    candidate = config.space.candidate_from_params(config.space.reference_point())
    cpu0, wall0 = meter.sample(), time.time()
    points = TrialRunner(config, base).run(candidate, f"{config.fidelity.low_rung_eval.value}-r0", steps)
    record = points.own_point
    return {"cpu_s": round(meter.sample() - cpu0, 1), "wall_s": round(time.time() - wall0, 1),
            "timing_s": record.timing.__dict__, "clips": {k: c.clips for k, c in record.evaluated.items()},
            "sweep_points": len(record.sweep), "visqol_mixed": round(record.visqol_mixed, 3),
            "fidelity_steps": record.fidelity_steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="demo")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--eval-fraction", type=float, default=0.1)
    parser.add_argument("--modes", nargs="+", default=["full", "scaled"], choices=[m.value for m in LowRungEval])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    space = bench_space(args.space, args.steps, args.eval_fraction, oracle=False)
    rungs = default_rungs(args.steps)
    out: dict = {"rungs_steps": list(rungs), "rung": 0, "steps": rungs[0], "modes": {}}
    with CpuTreeMeter() as meter, tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            fidelity = FidelityConfig(rungs_steps=rungs, low_rung_eval=LowRungEval(mode))
            config = SearchConfig(study=f"low-rung-{mode}", space=space, trials=1, runs_root=tmp, fidelity=fidelity)
            out["modes"][mode] = one_rung(config, rungs[0], meter)
            print(f"{mode}: {json.dumps(out['modes'][mode])}", file=sys.stderr, flush=True)
    if {"full", "scaled"} <= set(out["modes"]):
        full, scaled = out["modes"]["full"]["cpu_s"], out["modes"]["scaled"]["cpu_s"]
        out["scaled_over_full_cpu"] = round(scaled / full, 3) if full else None
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
