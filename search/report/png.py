"""Static PNGs of the report's figures (matplotlib, for slides): thin renderers of a :class:`ParetoFront`.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global backend switch). Labels use
trial numbers only, never study text (a ``$`` in a candidate name would start matplotlib's math mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from dslnas.hw_models.counts import PATHS
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.report.history import candidate_history, history_png
from dslnas.search.report.metrics import HypervolumeStep, ImportanceResult
from dslnas.search.report.plots import AXIS_TITLES, PART_COLORS, TAIL_OF, part_label, part_ms, value
from dslnas.spaces.atomic_io import atomic_file
from dslnas.spaces.space import Objective

DPI = 150


def _new(width_in: float = 7.0, height_in: float = 4.5) -> Figure:
    return Figure(figsize=(width_in, height_in), layout="constrained")


def _points(ax, points: Sequence[FrontPoint], x: Objective, **style) -> None:
    ax.plot([value(p, x) for p in points], [p.record.visqol_mixed for p in points], **style)


def pareto_png(front: ParetoFront, x: Objective) -> Figure:
    fig = _new()
    ax = fig.add_subplot()
    line = sorted(front.pareto, key=lambda p: value(p, x))
    _points(ax, line, x, marker="o", color="#1f77b4", label="Pareto front")
    _points(ax, front.dominated, x, marker="o", linestyle="", color="#b0b0b0", label="dominated")
    _points(ax, front.infeasible, x, marker="x", linestyle="", color="#d62728", label="infeasible")
    for point, label, marker in ((front.baseline, "full-only baseline", "*"), (front.reference, "paper reference", "D")):
        if point is not None:
            _points(ax, [point], x, marker=marker, markersize=13, linestyle="", color="#ff7f0e", label=label)
    if front.knee is not None:
        _points(ax, [front.knee], x, marker="o", markersize=16, linestyle="", markerfacecolor="none",
                markeredgecolor="#ff7f0e", markeredgewidth=2, label="knee")
    for p in line:
        ax.annotate(f"#{p.number}", (value(p, x), p.record.visqol_mixed), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if x is Objective.LATENCY_MS:
        for budget in front.latency_budgets_ms:
            ax.axvline(budget, linestyle="--", color="#888", linewidth=1)
    ax.set(xlabel=AXIS_TITLES[x], ylabel=AXIS_TITLES[Objective.VISQOL], title=f"Quality vs {'latency' if x is Objective.LATENCY_MS else 'power'}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def sweep_png(front: ParetoFront) -> Figure:
    fig = _new(10.0, 4.2)
    left, right = fig.subplots(1, 2)
    for point in front.front_candidates:
        sweep, label = point.record.sweep, f"trial {point.trained_trial}"
        line = left.plot([s.latency_ms for s in sweep], [s.visqol_mixed for s in sweep], marker="o", label=label)[0]
        if point.record.oracle_sweep:
            oracle = point.record.oracle_sweep
            left.plot([s.latency_ms for s in oracle], [s.visqol_mixed for s in oracle], linestyle=":", color=line.get_color())
        right.plot([s.threshold for s in sweep], [100 * s.light_usage for s in sweep], marker="o", label=label)
    left.set(xlabel=AXIS_TITLES[Objective.LATENCY_MS], ylabel=AXIS_TITLES[Objective.VISQOL], title="quality vs latency per threshold")
    right.set(xlabel="threshold tau", ylabel="light-path usage (%)", title="light-path usage per threshold")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    if front.pareto:
        left.legend(fontsize=8)
    return fig


def hypervolume_png(history: Sequence[HypervolumeStep]) -> Figure:
    fig = _new(7.0, 3.5)
    ax = fig.add_subplot()
    ax.step([s.trial_number for s in history], [s.hypervolume for s in history], where="post", marker="o")
    ax.set(xlabel="trial number", ylabel="hypervolume (unitless)", title="Hypervolume over trials")
    ax.grid(alpha=0.3)
    return fig


def importance_png(importance: ImportanceResult) -> Figure:
    fig = _new(7.0, 4.0)
    ax = fig.add_subplot()
    objectives = list(importance.by_objective)
    names = list(dict.fromkeys(n for shares in importance.by_objective.values() for n in shares))
    height = 0.8 / max(len(objectives), 1)
    for i, objective in enumerate(objectives):
        shares = importance.by_objective[objective]
        ax.barh([k + i * height for k in range(len(names))], [shares.get(n, 0.0) for n in names], height=height, label=objective)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(names))], names)
    ax.set(xlabel="importance (share)", title="Knob importance per objective (PED-ANOVA)")
    ax.legend(fontsize=8)
    return fig


def cost_png(front: ParetoFront) -> Figure:
    fig = _new(max(6.0, 1.1 * len(front.pareto) + 3), 4.2)
    ax = fig.add_subplot()
    bars = [(p, run) for p in front.pareto for run in TAIL_OF]
    labels = [f"#{p.number}\n{run.value}" for p, run in bars]
    bottom = [0.0] * len(bars)
    for part in PATHS:
        heights = [part_ms(p, part, run) for p, run in bars]
        ax.bar(labels, heights, bottom=bottom, color=PART_COLORS[part], label=part_label(part))
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set(ylabel="latency per inference (ms)", title="Predicted latency per part")
    ax.legend(fontsize=8)
    return fig


def write_pngs(front: ParetoFront, history: Sequence[HypervolumeStep], importance: ImportanceResult, out_dir: Path) -> list[Path]:
    """Write every figure as ``out_dir/<name>.png``; the importance figure only when it could be computed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "pareto_latency": pareto_png(front, Objective.LATENCY_MS),
        "pareto_power": pareto_png(front, Objective.POWER_MW),
        "threshold_sweep": sweep_png(front),
        "hypervolume": hypervolume_png(history),
        "search_history": history_png(candidate_history(front)),
        "cost_breakdown": cost_png(front),
    }
    if importance.by_objective:
        figures["importance"] = importance_png(importance)
    paths = []
    for name, fig in figures.items():
        path = out_dir / f"{name}.png"
        with atomic_file(path) as tmp:
            fig.savefig(tmp, dpi=DPI, format="png")
        paths.append(path)
    return paths
