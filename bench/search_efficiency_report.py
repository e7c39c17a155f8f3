"""The table, the goals and the curves of ``bench/search_efficiency.py`` (pure over its histories).

A history is one run's ``(fully trained candidates so far, CPU-seconds, hypervolume)`` after each candidate.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

Row = tuple[int, float, float]
Histories = Mapping[tuple[str, int], Sequence[Row]]
MODEL_BASED = ("tpe", "gp", "nsga2")
MULTI_FIDELITY = "mf"
MF_SCALED = "mf-scaled"  # mf with low rungs scored on fewer clips and thresholds (search.fidelity_eval)


def multi_fidelity(sampler: str) -> bool:
    return sampler in (MULTI_FIDELITY, MF_SCALED)


def hv_at(rows: Sequence[Row], n: int) -> float | None:
    """Hypervolume once ``n`` fully trained candidates are done (None: the run has fewer)."""
    return next((hv for done, _, hv in rows if done >= n), None)


def cpu_to_reach(rows: Sequence[Row], target: float) -> float | None:
    """CPU-seconds at which the run first reaches ``target`` (None: never)."""
    return next((cpu for _, cpu, hv in rows if hv >= target - 1e-12), None)


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 4) if present else None


def _spread(values: Sequence[float | None]) -> tuple[float, float] | None:
    """The lowest and highest of the runs' values (how far apart the seeds land; None without a value)."""
    present = [v for v in values if v is not None]
    return (round(min(present), 4), round(max(present), 4)) if present else None


def checkpoints(max_candidates: int) -> list[int]:
    return sorted({n for n in (1, 2, 4, 8, 16) if n <= max_candidates} | {max_candidates})


def report(histories: Histories, max_candidates: int, depths: Mapping[str, Counter] | None = None) -> dict:
    """Median hypervolume per sampler at each checkpoint, final CPU-seconds, and the two goals; prints the table."""
    samplers = list(dict.fromkeys(s for s, _ in histories))
    marks = checkpoints(max_candidates)
    table: dict[str, dict] = {}
    for sampler in samplers:
        runs = [rows for (s, _), rows in histories.items() if s == sampler]
        table[sampler] = {"seeds": len(runs), **{f"hv@{n}": _median([hv_at(r, n) for r in runs]) for n in marks},
                          "final_hv": _median([r[-1][2] if r else None for r in runs]),
                          "final_hv_range": _spread([r[-1][2] if r else None for r in runs]),
                          "cpu_s": _median([r[-1][1] if r else None for r in runs])}
        if depths is not None:
            table[sampler]["depths_tried"] = dict(sorted(depths.get(sampler, Counter()).items()))
    _print_table(table, marks)
    out = {"table": table, "goal_model_based_vs_random": _goal_random(histories, samplers, max_candidates),
           "goal_multi_fidelity": _goal_mf(histories, samplers, table)}
    if MF_SCALED in samplers:
        out["goal_multi_fidelity_scaled"] = _goal_mf(histories, samplers, table, MF_SCALED)
    return out


def _goal_random(histories: Histories, samplers: list[str], max_candidates: int) -> dict:
    n = max_candidates // 3
    if n < 1 or "random" not in samplers:
        return {"note": "needs random and --max-candidates >= 3"}
    random_hv = _median([hv_at(r, 3 * n) for (s, _), r in histories.items() if s == "random"])
    model = {s: _median([hv_at(r, n) for (t, _), r in histories.items() if t == s]) for s in samplers if s in MODEL_BASED}
    if not model:
        return {"note": "no model-based sampler run yet (pending or not asked for)", f"random_at_{3 * n}": random_hv}
    best = max(model, key=lambda s: model[s] or 0.0)
    met = model[best] is not None and random_hv is not None and model[best] >= random_hv
    return {"n": n, f"random_at_{3 * n}": random_hv, f"model_based_at_{n}": model, "best": best, "met": met}


def _goal_mf(histories: Histories, samplers: list[str], table: dict, mf: str = MULTI_FIDELITY) -> dict:
    full = [s for s in samplers if not multi_fidelity(s)]
    if mf not in samplers or not full:
        return {"note": "multi-fidelity search not run (pending or not asked for)"}
    best = max(full, key=lambda s: table[s]["final_hv"] or 0.0)
    target, full_cpu = table[best]["final_hv"], table[best]["cpu_s"]
    reach = [cpu_to_reach(r, target) for (s, _), r in histories.items() if s == mf]
    mf_cpu = _median(reach) if all(c is not None for c in reach) else None
    ratio = round(mf_cpu / full_cpu, 3) if mf_cpu is not None and full_cpu else None
    return {"full_fidelity_best": best, "its_final_hv": target, "its_cpu_s": full_cpu,
            "mf_cpu_s_to_reach_it": mf_cpu, "mf_runs_reaching_it": sum(c is not None for c in reach),
            "mf_runs": len(reach), "ratio": ratio, "met": ratio is not None and ratio <= 0.5}


def _print_table(table: dict[str, dict], marks: list[int]) -> None:
    head = ["sampler", "seeds", *[f"HV@{n}" for n in marks], "final HV, seeds' range", "CPU-s"]
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for sampler, row in table.items():
        spread = row["final_hv_range"]
        cells = [sampler, str(row["seeds"]), *[_fmt(row[f"hv@{n}"]) for n in marks],
                 "-" if spread is None else f"{_fmt(spread[0])}..{_fmt(spread[1])}", _fmt(row["cpu_s"], 0)]
        print(" | ".join(cells))


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write_png(histories: Histories, path: Path) -> None:
    """Two panels: hypervolume against fully trained candidates and against CPU-seconds (one line per run)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (by_n, by_cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = dict(zip(dict.fromkeys(s for s, _ in histories), plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    labelled: set[str] = set()
    for (sampler, _), rows in histories.items():
        if not rows:
            continue
        label = None if sampler in labelled else sampler
        labelled.add(sampler)
        style = {"color": colours[sampler], "alpha": 0.75, "drawstyle": "steps-post", "label": label}
        if not multi_fidelity(sampler):
            by_n.plot([d for d, _, _ in rows], [hv for _, _, hv in rows], **style)
        by_cpu.plot([c for _, c, _ in rows], [hv for _, _, hv in rows], **style)
    by_n.set(xlabel="fully trained candidates", ylabel="hypervolume (scaled, ref 1.1)", title="per candidate")
    by_cpu.set(xlabel="CPU-seconds", title="per CPU-second")
    by_n.legend(fontsize=8)
    by_cpu.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
