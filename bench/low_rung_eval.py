"""What a cheaper low-rung evaluation saves: the space's reference candidate at a multi-fidelity search's first
rung, scored as today (``low_rung_eval: full``: every evaluation clip, the whole threshold sweep) and scaled
(``search.fidelity_eval``: the rung's share of the clips, fewer thresholds).

One trial runner serves every run (as in a search: the corpus, the codec stack and the ViSQOL pool are set
up once); a first run warms it and is not counted, then the modes alternate ``--repeats`` times. The space
is the search-efficiency bench's (``bench/search_efficiency.py``: ``--steps`` fine-tune steps, constant
learning rate, ``--eval-fraction`` of the corpus scored, no oracle sweep); the rungs are
``default_rungs(--steps)``. CPU-seconds are this process's and its children's (ViSQOL pool), from /proc
(``bench/cpu_tree.py``), per run: training the rung's steps and the evaluation together.

    nice -n 10 .venv/bin/python bench/low_rung_eval.py [--space demo] [--steps 30] [--eval-fraction 0.1]
        [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
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


def one_rung(runner: TrialRunner, config: SearchConfig, steps: int, key: str, meter: CpuTreeMeter) -> dict:
    """Train and score the space's reference candidate at ``steps`` under ``config``; -> its costs and what it scored."""
    runner.config = config  # the runner's corpus and scorer stay warm; only the fidelity schedule changes
    candidate = config.space.candidate_from_params(config.space.reference_point())
    cpu0, wall0 = meter.sample(), time.time()
    record = runner.run(candidate, key, steps).own_point
    return {"cpu_s": round(meter.sample() - cpu0, 1), "wall_s": round(time.time() - wall0, 1),
            "timing_s": record.timing.__dict__, "clips": {k: c.clips for k, c in record.evaluated.items()},
            "seconds": {k: c.seconds for k, c in record.evaluated.items()}, "sweep_points": len(record.sweep),
            "visqol_mixed": round(record.visqol_mixed, 3), "fidelity_steps": record.fidelity_steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--space", default="demo")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--eval-fraction", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    space = bench_space(args.space, args.steps, args.eval_fraction, oracle=False)
    rungs = default_rungs(args.steps)
    out: dict = {"rungs_steps": list(rungs), "rung": 0, "steps": rungs[0], "runs": []}
    with CpuTreeMeter() as meter, tempfile.TemporaryDirectory() as tmp:
        configs = {mode: SearchConfig(study="low-rung", space=space, trials=1, runs_root=tmp,
                                      fidelity=FidelityConfig(rungs_steps=rungs, low_rung_eval=mode)) for mode in LowRungEval}
        runner = TrialRunner(configs[LowRungEval.FULL], ensure_base_codec(configs[LowRungEval.FULL]))
        out["warm_up"] = one_rung(runner, configs[LowRungEval.FULL], rungs[0], "warm-up", meter)
        for repeat in range(args.repeats):
            for mode in LowRungEval:
                row = {"mode": mode.value, **one_rung(runner, configs[mode], rungs[0], f"{mode.value}-{repeat}", meter)}
                out["runs"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    cpu = {m.value: statistics.median(r["cpu_s"] for r in out["runs"] if r["mode"] == m.value) for m in LowRungEval}
    out["median_cpu_s"] = cpu
    out["scaled_over_full_cpu"] = round(cpu["scaled"] / cpu["full"], 3) if cpu["full"] else None
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
