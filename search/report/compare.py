"""Several studies' fronts on one figure: ``dslnas report --study A --study B`` (issue 26.5).

The first study's report is written as usual; this section overlays every named study's Pareto front (quality
against latency), each study's knee marked, with one line per study saying its profile and its knee. Fronts
priced on different profiles are not comparable in latency; the section says so when the profiles differ.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from dslnas.search.pareto import ParetoFront
from dslnas.search.report.plots import AXIS_TITLES, LAYOUT, hover, value
from dslnas.spaces.space import Objective

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def compare_figure(fronts: Sequence[ParetoFront], x: Objective = Objective.LATENCY_MS) -> go.Figure:
    """Each study's front as a line (its knee ringed); hover names the study and the trial."""
    fig = go.Figure()
    for i, front in enumerate(fronts):
        colour, name = COLOURS[i % len(COLOURS)], html.escape(front.study_name)
        line = sorted(front.pareto, key=lambda p: value(p, x))
        fig.add_trace(go.Scatter(
            x=[value(p, x) for p in line], y=[p.record.visqol_mixed for p in line], mode="lines+markers", name=name,
            marker=dict(size=9, color=colour), hovertext=[f"<b>{name}</b><br>{hover(p)}" for p in line], hoverinfo="text"))
        if front.knee is not None:
            fig.add_trace(go.Scatter(
                x=[value(front.knee, x)], y=[front.knee.record.visqol_mixed], mode="markers", name=f"{name}: knee",
                marker=dict(size=20, color=colour, symbol="circle-open", line=dict(width=2)), hoverinfo="skip"))
    fig.update_layout(title="Pareto fronts compared", xaxis_title=AXIS_TITLES[x], yaxis_title=AXIS_TITLES[Objective.VISQOL],
                      **LAYOUT)
    return fig


def compare_lines(fronts: Sequence[ParetoFront]) -> str:
    """One escaped list item per study (profile, front size, knee), and a note when the profiles differ."""
    items = []
    for front in fronts:
        knee = front.knee
        tail = (f"knee trial {knee.number}: {value(knee, Objective.LATENCY_MS):.2f} ms, ViSQOL {knee.record.visqol_mixed:.3f}"
                if knee is not None else "no knee within the tolerance")
        items.append(f"<li><b>{html.escape(front.study_name)}</b>: profile {html.escape(front.profile)}, "
                     f"{len(front.pareto)} points on the front, {html.escape(tail)}</li>")
    note = ""
    if len({f.profile for f in fronts}) > 1:
        note = '<p class="note">These studies are priced on different device profiles: their latencies are not comparable.</p>'
    return f"{note}<ul>{''.join(items)}</ul>"
