"""Interactive (plotly) figures of a :class:`ParetoFront`: thin renderers, no computing of their own.

Every string that comes from the study (candidate names, roles) is HTML-escaped before it reaches a
figure: plotly renders a subset of HTML in hover text and labels. Each point carries its trial number in
``customdata`` so that the page can jump to the trial's table row on click.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dslnas.hw_models.counts import PATHS, TAIL_PARTS, Part
from dslnas.hw_models.routing import Pass
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.report.columns import COLUMNS, shown
from dslnas.search.report.metrics import HypervolumeStep, ImportanceResult
from dslnas.spaces.space import Objective

AXIS_TITLES = {
    Objective.VISQOL: "ViSQOL MOS-LQO (mixed pass)",
    Objective.LATENCY_MS: "predicted latency, mixed pass (ms)",
    Objective.POWER_MW: "predicted power, mixed pass (mW)",
}
PART_COLORS = {Part.BASE: "#4c72b0", Part.MASK: "#8172b2", Part.SWITCH: "#ccb974", Part.FULL_TAIL: "#c44e52",
               Part.LIGHT_TAIL: "#55a868"}
TAIL_OF = {Pass.FULL: Part.FULL_TAIL, Pass.LIGHT: Part.LIGHT_TAIL}
"""The tail each bar's pass runs (both run the front parts)."""
LAYOUT = dict(template="plotly_white", height=430, margin=dict(l=60, r=20, t=50, b=50), legend=dict(orientation="h", y=-0.18))


def value(point: FrontPoint, metric: Objective) -> float:
    return point.record.objective_value(metric)


HOVER_FIELDS = ("visqol_mixed", "visqol_full", "latency_ms", "power_mw", "light_usage")
"""The fields a point's hover text lists (titles and formats from the field table)."""


def hover(point: FrontPoint) -> str:
    lines = "<br>".join(f"{html.escape(COLUMNS[name].title)} {html.escape(shown(name, point))}" for name in HOVER_FIELDS)
    return f"<b>trial {point.number}</b> ({html.escape(point.role.value)})<br>{html.escape(point.name)}<br>{lines}"


def _scatter(points: Sequence[FrontPoint], x: Objective, name: str, marker: dict, mode: str = "markers") -> go.Scatter:
    return go.Scatter(
        x=[value(p, x) for p in points], y=[p.record.visqol_mixed for p in points], mode=mode, name=name,
        marker=marker, hovertext=[hover(p) for p in points], hoverinfo="text", customdata=[p.number for p in points],
    )


def pareto_figure(front: ParetoFront, x: Objective) -> go.Figure:
    """Quality against ``x``: the front as a line, dominated and infeasible trials apart, anchors marked."""
    fig = go.Figure()
    line = sorted(front.pareto, key=lambda p: value(p, x))
    fig.add_trace(_scatter(line, x, "Pareto front", dict(size=11, color="#1f77b4"), "lines+markers"))
    fig.add_trace(_scatter(front.dominated, x, "dominated", dict(size=8, color="#b0b0b0")))
    fig.add_trace(_scatter(front.infeasible, x, "infeasible (breaks a constraint)", dict(size=9, color="#d62728", symbol="x")))
    anchors = [(front.baseline, "full-only baseline", "star", 18), (front.reference, "paper reference", "diamond", 16),
               (front.knee, "knee", "circle-open", 28)]
    for point, name, symbol, size in anchors:
        if point is not None:
            fig.add_trace(_scatter([point], x, name, dict(size=size, symbol=symbol, color="#ff7f0e", line=dict(width=2))))
    if x is Objective.LATENCY_MS:
        for budget in front.latency_budgets_ms:
            fig.add_vline(x=budget, line_dash="dash", line_color="#888", annotation_text=f"{budget:g} ms")
    title = f"Quality vs {'latency' if x is Objective.LATENCY_MS else 'power'}"
    if x not in front.objectives:
        title += " (power is not an objective here: the front is the one of the study's objectives)"
    fig.update_layout(title=title, xaxis_title=AXIS_TITLES[x], yaxis_title=AXIS_TITLES[Objective.VISQOL], **LAYOUT)
    return fig


def sweep_figure(front: ParetoFront) -> go.Figure:
    """The threshold sweep of each trained candidate with a point on the front: quality vs latency (with the
    oracle router's curve dashed, the bound routing can reach), and light usage vs threshold."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("quality vs latency per threshold", "light-path usage per threshold"))
    for point in front.front_candidates:
        sweep = point.record.sweep
        label = f"trial {point.trained_trial}"
        oracle = point.record.oracle_sweep
        if oracle:
            fig.add_trace(go.Scatter(x=[s.latency_ms for s in oracle], y=[s.visqol_mixed for s in oracle], mode="lines",
                                     line={"dash": "dot"}, name=f"{label} oracle", legendgroup=label, hoverinfo="skip"), 1, 1)
        text = [f"<b>{label}</b> {html.escape(point.name)}<br>threshold {s.threshold:g}<br>ViSQOL {s.visqol_mixed:.3f}"
                f"<br>{s.latency_ms:.2f} ms, {s.power_mw:.2f} mW<br>light usage {s.light_usage:.0%}" for s in sweep]
        common = dict(name=label, legendgroup=label, hovertext=text, hoverinfo="text", customdata=[point.trained_trial] * len(sweep))
        fig.add_trace(go.Scatter(x=[s.latency_ms for s in sweep], y=[s.visqol_mixed for s in sweep], mode="lines+markers", **common), 1, 1)
        fig.add_trace(go.Scatter(x=[s.threshold for s in sweep], y=[s.light_usage for s in sweep], mode="lines+markers",
                                 showlegend=False, **common), 1, 2)
    fig.update_xaxes(title_text=AXIS_TITLES[Objective.LATENCY_MS], row=1, col=1)
    fig.update_yaxes(title_text=AXIS_TITLES[Objective.VISQOL], row=1, col=1)
    fig.update_xaxes(title_text="threshold tau", row=1, col=2)
    fig.update_yaxes(title_text="light-path usage", tickformat=".0%", row=1, col=2)
    fig.update_layout(title="Threshold sweep of each Pareto candidate", **LAYOUT)
    return fig


def hypervolume_figure(history: Sequence[HypervolumeStep]) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[s.trial_number for s in history], y=[s.hypervolume for s in history],
                               mode="lines+markers", line_shape="hv", name="hypervolume"))
    fig.update_layout(title="Hypervolume over trials (objectives scaled 0..1, reference 1.1)",
                      xaxis_title="trial number", yaxis_title="hypervolume (unitless)", **LAYOUT)
    return fig


def importance_figure(importance: ImportanceResult) -> go.Figure:
    fig = go.Figure()
    for objective, shares in importance.by_objective.items():
        names = list(shares)
        fig.add_trace(go.Bar(y=[html.escape(n) for n in names], x=[shares[n] for n in names], orientation="h",
                             name=html.escape(objective)))
    fig.update_layout(title="Knob importance per objective (PED-ANOVA)", xaxis_title="importance (share)",
                      barmode="group", **LAYOUT)
    return fig


def cost_figure(front: ParetoFront) -> go.Figure:
    """Predicted latency per part for each Pareto candidate's full and light pass (stacked bars)."""
    fig = go.Figure()
    bars = [(p, run) for p in front.pareto for run in TAIL_OF]
    labels = [f"#{p.number} {run.value} pass" for p, run in bars]
    for part in PATHS:
        ys = [part_ms(p, part, run) for p, run in bars]
        fig.add_trace(go.Bar(x=labels, y=ys, name=part_label(part),
                             marker_color=PART_COLORS[part], customdata=[p.number for p, _ in bars],
                             hovertemplate="%{x}<br>" + part.value + ": %{y:.3f} ms<extra></extra>"))
    fig.update_layout(title="Predicted latency per part (both passes run base, mask and switch)",
                      yaxis_title="latency per inference (ms)", barmode="stack", **LAYOUT)
    return fig


def part_label(part: Part) -> str:
    """A part's legend entry ("full tail", "mask")."""
    return f"{part.value} tail" if part in TAIL_PARTS else part.value


def part_ms(point: FrontPoint, part: Part, run: Pass) -> float:
    """Latency of ``part`` in the ``run`` pass (full or light): the other pass's tail is not run."""
    if part in TAIL_PARTS and part is not TAIL_OF[run]:
        return 0.0
    return point.record.cost.path_latency_ms[part]
