"""The search's history per trained candidate: hypervolume after each one, and which depths and widths it tried.

:func:`candidate_history` is computed once from a :class:`ParetoFront`; :func:`history_figure` (plotly, the
HTML page) and :func:`history_png` (matplotlib) render it. A candidate is a trained trial (its sweep points
are its own); the hypervolume after the k-th is that of the feasible points of the first k, objectives
minimised and scaled 0..1 over every feasible point of the study, reference 1.1 (as ``metrics``). A point
trained at a low multi-fidelity rung (its record's ``fidelity_steps`` set) never adds to the hypervolume:
the rung's candidate is listed, marked with its steps.
"""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass

from dslnas.search.dominance import dominates, minimised
from dslnas.search.pareto import ParetoFront
from dslnas.search.report.metrics import REFERENCE_SCALED, hypervolume, scaled_objectives

DEPTH_COLUMN, WIDTHS_COLUMN = "switch_depth", "light_widths"


@dataclass(frozen=True)
class CandidateStep:
    """One trained candidate, in trial order: its knobs as report columns, the study's hypervolume after it,
    and the fine-tune steps it stopped at when that was a low multi-fidelity rung (None: fully trained)."""

    trial: int
    knobs: dict[str, object]
    hypervolume: float
    fidelity_steps: int | None

    @property
    def depth(self) -> object:
        return self.knobs.get(DEPTH_COLUMN)

    @property
    def widths(self) -> str:
        return str(self.knobs.get(WIDTHS_COLUMN, ""))


def candidate_history(front: ParetoFront) -> tuple[CandidateStep, ...]:
    """One step per trained candidate, in trial order."""
    fidelity = {p.trained_trial: getattr(p.record, "fidelity_steps", None) for p in front.points}
    counted = [p for p in front.points if p.feasible and fidelity[p.trained_trial] is None]
    values = {p.number: minimised(p.values, front.objectives) for p in counted}
    scaled = scaled_objectives(values) if values else {}
    trained = sorted((p for p in front.points if p.role.trained), key=lambda p: p.number)
    waiting = sorted(counted, key=lambda p: p.trained_trial)  # a point joins with its trained trial (or the
    steps, seen = [], []                                       # next one, for a baseline stored without parent)
    for k, point in enumerate(trained):
        last = k == len(trained) - 1
        while waiting and (last or waiting[0].trained_trial <= point.number):
            seen.append(scaled[waiting.pop(0).number])
        seen = [v for v in seen if not any(dominates(o, v) for o in seen)]
        volume = hypervolume(seen, [REFERENCE_SCALED] * len(front.objectives)) if seen else 0.0
        steps.append(CandidateStep(point.number, dict(point.knobs), volume, fidelity[point.number]))
    return tuple(steps)


def knobs_tried(steps: tuple[CandidateStep, ...]) -> dict[str, Counter]:
    """Per knob column, how many trained candidates took each value (the depths and widths a search tried)."""
    tried: dict[str, Counter] = {}
    for step in steps:
        for column, value in step.knobs.items():
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                tried.setdefault(column, Counter())[value] += 1
    return tried


def history_figure(steps: tuple[CandidateStep, ...]):
    """Plotly: hypervolume after each trained candidate (top), each candidate's switch depth with its light
    widths as the label (bottom); low-rung candidates hollow."""
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4], vertical_spacing=0.06)
    order = list(range(1, len(steps) + 1))
    fig.add_trace(go.Scatter(x=order, y=[s.hypervolume for s in steps], mode="lines+markers", line_shape="hv",
                             name="hypervolume", customdata=[s.trial for s in steps]), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=order, y=[s.depth for s in steps], mode="markers+text", name="switch depth (light widths)",
        text=[html.escape(s.widths) for s in steps], textposition="top center", customdata=[s.trial for s in steps],
        marker={"symbol": ["circle-open" if s.fidelity_steps else "circle" for s in steps], "size": 9}), row=2, col=1)
    fig.update_yaxes(title_text="hypervolume", row=1, col=1)
    fig.update_yaxes(title_text="switch depth", dtick=1, row=2, col=1)
    fig.update_xaxes(title_text="trained candidate (in trial order)", row=2, col=1)
    fig.update_layout(title="Search history: hypervolume and the depths and widths tried", height=520,
                      margin={"l": 60, "r": 20, "t": 50, "b": 50})
    return fig


def history_caption(steps: tuple[CandidateStep, ...]) -> str:
    """One HTML-escaped line: candidates per depth and the width tuples tried most."""
    tried = knobs_tried(steps)
    depths = ", ".join(f"depth {d}: {n}" for d, n in sorted(tried.get(DEPTH_COLUMN, Counter()).items()))
    widths = ", ".join(f"{w} x{n}" for w, n in tried.get(WIDTHS_COLUMN, Counter()).most_common(5))
    low = sum(s.fidelity_steps is not None for s in steps)
    rungs = f"; {low} stopped at a low fidelity rung (hollow, never on the front)" if low else ""
    return html.escape(f"Trained candidates per switch depth: {depths or 'none'}; light widths tried most: "
                       f"{widths or 'none'}{rungs}.")


def history_png(steps: tuple[CandidateStep, ...]):
    """Matplotlib version of :func:`history_figure`."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7.0, 5.0))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    order = list(range(1, len(steps) + 1))
    top.step(order, [s.hypervolume for s in steps], where="post", marker="o")
    top.set(ylabel="hypervolume", title="Search history: hypervolume and depths tried")
    for x, step in zip(order, steps):
        if step.depth is None:
            continue
        bottom.scatter([x], [step.depth], facecolors="none" if step.fidelity_steps else "C0", edgecolors="C0")
        bottom.annotate(step.widths, (x, step.depth), fontsize=6, textcoords="offset points", xytext=(0, 5), ha="center")
    bottom.set(xlabel="trained candidate (in trial order)", ylabel="switch depth")
    for ax in (top, bottom):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig
