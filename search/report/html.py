"""The report page: one self-contained HTML file (plotly.js inline, no network) rendered from a ParetoFront.

Top: the recommended points in plain words for a product team. Then the interactive figures, the
on-device confirmations (when any) and a sortable table of every trial (row ``id="trial-N"``; clicking a
point in a figure jumps there). All study text is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape
from importlib.metadata import version

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from dslnas.hw_models.cost import Cost
from dslnas.hw_models.routing import Pass
from dslnas.search.config import DEFAULT_PROFILE
from dslnas.search.records import Comparison, EvaluatedClass, Role
from dslnas.search.pareto import FrontPoint, ParetoFront, Recommendation, RecommendationKind
from dslnas.search.report.columns import COLUMNS, shown
from dslnas.search.report.compare import compare_figure, compare_lines
from dslnas.search.report.history import candidate_history, history_caption, history_figure
from dslnas.search.report.knobs_tried import knobs_tried_html, knobs_tried_of
from dslnas.search.report.listen import Listening
from dslnas.search.report.listen_html import listening_html
from dslnas.search.report.metrics import HypervolumeStep, ImportanceResult, rank_agreement
from dslnas.search.report.placement import FrontPlacement, front_placement
from dslnas.search.report.placement_html import placement_section
from dslnas.search.report.plots import cost_figure, hypervolume_figure, importance_figure, pareto_figure, sweep_figure
from dslnas.search.report.tables import confirmation_table, pick_table, rank_agreement_list, trial_table
from dslnas.search.uncertainty import LEVEL, ToleranceSource
from dslnas.spaces.labels import REPORTED_CLASSES
from dslnas.spaces.space import Objective

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .meta{color:#666;margin-top:0} section{margin:2rem 0}
.picks li{margin:.5rem 0;line-height:1.4} .note{background:#fff8e1;border-left:4px solid #f0b400;padding:.6rem 1rem}
table{border-collapse:collapse;font-size:.85rem;width:100%} th,td{border-bottom:1px solid #ddd;padding:.3rem .45rem;text-align:left}
table.sortable th{cursor:pointer;background:#f4f6f8;position:sticky;top:0} table.sortable th:hover{background:#e3e8ee}
tr.front td:first-child{border-left:4px solid #1f77b4} tr.infeasible{color:#a33} tr.failed{color:#888}
tr:target{background:#fff3c4} .player{margin:.2rem 0} .player audio{height:2rem;width:15rem;display:block} img.timeline{max-width:100%}
.reason{display:inline-block;min-width:14rem;max-width:24rem} .caption{color:#555;font-size:.9rem} .scroll{overflow-x:auto}
"""

# Sort a table by the clicked column (numbers by data-v), and jump to a trial's row from a plot click.
JS = """
document.querySelectorAll("table.sortable th").forEach((th, col) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], asc = th.dataset.dir !== "asc";
  th.dataset.dir = asc ? "asc" : "desc";
  const key = (row) => { const td = row.cells[col]; return td.dataset.v !== undefined ? parseFloat(td.dataset.v) : td.textContent; };
  const rows = [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return asc ? c : -c; });
  rows.forEach((r) => body.appendChild(r));
}));
window.addEventListener("load", () => document.querySelectorAll(".js-plotly-plot").forEach((div) => div.on("plotly_click", (ev) => {
  const n = ev.points[0].customdata; if (n !== undefined && n !== null) location.hash = "trial-" + n;
})));
"""


def render_page(front: ParetoFront, history: Sequence[HypervolumeStep], importance: ImportanceResult,
                listening: Listening | None = None, compared: Sequence[ParetoFront] = (),
                placement: FrontPlacement | None = None) -> str:
    """The whole page as one string (``listening``: the audio players and the knee's routing timelines;
    ``compared``: other studies whose fronts are overlaid on this one's; ``placement``: the front's placement
    section when already computed)."""
    title = f"dslnas report: {escape(front.study_name)}"
    parts = [
        f"<h1>{title}</h1>", _meta(front), _picks(front), placement_section(placement or front_placement(front)), _compared(front, compared),
        listening_html(listening) if listening else "", _confirmations(front),
        _figures_section(front, history, importance), _trials_section(front),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style><script>{get_plotlyjs()}</script></head>\n<body>{''.join(parts)}"
        f"<script>{JS}</script></body></html>\n"
    )


def _meta(front: ParetoFront) -> str:
    objectives = ", ".join(f"{o.value} ({o.direction})" for o in front.objectives)
    counts = f"{len(front.points)} completed trials, {len(front.unfinished)} without a result, {len(front.pareto)} on the front"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cost = front.points[0].record.cost if front.points else None
    how = ""
    if cost is not None:
        band = ("" if cost.latency_error_pct is not None  # its cross-validated error stands beside its name
                else " For prices with a cross-validated error, price on a calibrated profile "
                     f"(<code>--profile {escape(DEFAULT_PROFILE)}</code>, the default, or one from <code>dslnas calibrate</code>).")
        alpha = ("The mask's sparsity is priced: this device skips zero inputs." if cost.sparsity_priced
                 else "The compression weight alpha buys nothing on this device (its runtime does not skip the mask's zeros).")
        how = f" The profile is {escape(cost.provenance)}.{band} {alpha}"
        rules = front.points[0].record.visqol_rules
        if rules is not None:
            how += (f" ViSQOL scored {rules.scored} reference clips per candidate; {rules.levelled} quiet ones "
                    f"were levelled to -26 dBFS first and {rules.digital_silence} were digital silence (scored without ViSQOL).")
        how += _evaluated_sentence(front.points[0].record.evaluated)
    return (f'<p class="meta">Objectives: {escape(objectives)}. {counts}. Quality and costs come from the streaming '
            f"run that skips the unused tail, each point at its own threshold. Costs predicted for the "
            f"<b>{escape(front.profile)}</b> device profile{_evidence(cost)}.{how} dslnas {escape(version('dslnas'))}, {stamp}.</p>")


def _evidence(cost: Cost | None) -> str:
    """Beside the profile's name: its cross-validated latency error, or that it is a reference, not evidence."""
    if cost is None:
        return ""
    if cost.latency_error_pct is not None:
        return f" (calibrated: cross-validated latency error +-{cost.latency_error_pct:.1f}%)"
    return " (<b>a reference, not evidence</b>: no measured error)"


SPEAKERS_SHOWN = 8


def _evaluated_sentence(evaluated: dict[str, EvaluatedClass]) -> str:
    """The sentence naming what quality is scored on: clips, seconds and speakers per class (empty for
    records written before trials stored it)."""
    if not evaluated:
        return ""
    parts = []
    for label, held in evaluated.items():
        names = ", ".join(held.speakers[:SPEAKERS_SHOWN])
        more = f" and {len(held.speakers) - SPEAKERS_SHOWN} more" if len(held.speakers) > SPEAKERS_SHOWN else ""
        who = f" from {names}{more}" if names else ""
        parts.append(f"{label} {held.clips} clips, {held.seconds:.0f} s{who}")
    return f" Quality is scored on held-out clips: {escape('; '.join(parts))}."


def _picks(front: ParetoFront) -> str:
    if not front.points:
        return "<section><h2>What to pick</h2><p>No completed trial yet: nothing to recommend.</p></section>"
    items = "".join(_sentence(r, front) for r in front.recommendations)
    items = f'<li class="tolerance">{_tolerance_text(front)}</li>{items}'
    fastest_first = sorted(front.pareto, key=lambda p: p.record.latency_ms)
    return (
        f'<section><h2>What to pick</h2><ul class="picks">{items}</ul>'
        f'<p class="caption">Savings and quality loss are against the {escape(front.points[0].savings.anchor)}. Latency is per '
        "inference (one routing segment), power is the average while running in real time; both are predictions of the "
        f"cost model.</p>{pick_table([(r.title, r.point) for r in front.recommendations])}"
        f"<h3>Every candidate on the front, fastest first</h3>{pick_table([(p.role.value, p) for p in fastest_first])}</section>"
    )


def _tolerance_text(front: ParetoFront) -> str:
    """How the picks hold to the quality tolerance, in words."""
    return (f"Every pick loses at most {front.max_visqol_loss:.3g} ViSQOL against full-only with {LEVEL:.0%} confidence "
            f"(the upper end of a bootstrap interval over the scored clips). The tolerance {front.max_visqol_loss:.3g} is "
            f"{escape(front.tolerance.origin())}{_another(front)}. "
            "Quality lost is full-only minus the point: positive is worse.")


def _another(front: ParetoFront) -> str:
    return "" if front.tolerance.source is ToleranceSource.GIVEN else "; <code>--max-visqol-loss</code> sets another"


def _excluded(rec: Recommendation) -> str:
    """What the tolerance excluded from this pick (empty when nothing)."""
    q = rec.over_tolerance
    if q is None:
        return ""
    ci = shown("visqol_lost_95", q)
    return (f' <span class="excluded">Without the tolerance it would be <a href="#trial-{q.number}">trial {q.number}</a> '
            f"({escape(shown('latency_ms', q))} ms, {escape(shown('latency_saved_pct', q))} less latency), which loses "
            f"{escape(shown('visqol_lost', q))} ViSQOL{escape(f' (95% interval {ci})' if ci != '-' else '')}.</span>")


def _quality(p: FrontPoint, f: dict[str, str]) -> str:
    """The quality clause: the loss, its interval and per class, or "within clip noise"."""
    u = p.uncertainty
    if p.role is Role.BASELINE:
        return f"ViSQOL {f['visqol_mixed']}: this is the full-only baseline itself (no routed point holds to the tolerance)"
    if u is not None and u.visqol_lost.within_noise:
        lost = f"its difference to full-only ({f['visqol_lost']}, interval {f['visqol_lost_95']}) is within clip noise"
    elif p.savings.visqol_lost > 0:
        lost = f"{f['visqol_lost'].lstrip('+')} lower than full-only (95% interval {f['visqol_lost_95']})"
    else:
        lost = f"no lower than full-only (interval {f['visqol_lost_95']})"
    per_class = "; ".join(f"{label} {f[f'visqol_lost_{label}']} ({f[f'visqol_lost_{label}_95']})" for label in REPORTED_CLASSES
                          if u is not None and label in u.visqol_lost_per_class)
    clips = f" over {u.visqol_lost.clips} clips" if u is not None and u.visqol_lost.known else " (no per-clip scores recorded)"
    return f"ViSQOL {f['visqol_mixed']}, {lost}{clips}" + (f"; lost per class: {per_class}" if per_class else "")


def _measured_beside(p: FrontPoint) -> str:
    """Measured beside predicted for a confirmed point (empty when nothing was measured)."""
    measured = {path: shown(f"measured_latency_{path}_ms", p) for path in (q.value for q in (Pass.FULL, Pass.LIGHT, Pass.MIXED))}
    if all(v == "-" for v in measured.values()):
        return ""
    said = ", ".join(f"{path} {escape(v)} ms (predicted {escape(shown(f'latency_{path}_ms' if path != 'mixed' else 'latency_ms', p))})"
                     for path, v in measured.items() if v != "-")
    return f' <span class="measured">Measured on a device: {said}; see "Predicted vs measured".</span>'


def _no_pick(rec: Recommendation, front: ParetoFront) -> str:
    """Why a recommendation has no point: nothing within the budget, or nothing there within the tolerance."""
    if rec.kind is RecommendationKind.KNEE:
        return f"no point on the front loses at most {front.max_visqol_loss:.3g} ViSQOL."
    if rec.over_tolerance is not None:
        return f"no feasible candidate within {rec.budget_ms:g} ms loses at most {front.max_visqol_loss:.3g} ViSQOL."
    fastest = min((p for p in front.points if p.feasible), key=lambda p: p.record.latency_ms, default=None)
    tail = f" The fastest feasible candidate, trial {fastest.number}, needs {shown('latency_ms', fastest)} ms." if fastest else ""
    return f"no feasible candidate is predicted to run within {rec.budget_ms:g} ms.{tail}"


def _sentence(rec: Recommendation, front: ParetoFront) -> str:
    """One "what to pick" line; every figure in it is a field of the report's columns, formatted as declared."""
    title = escape(rec.title)
    if rec.point is None:
        return f"<li><b>{title}:</b> {_no_pick(rec, front)}{_excluded(rec)}</li>"
    p, size = rec.point, rec.point.size
    f = {name: escape(shown(name, p)) for name in COLUMNS}
    quality = _quality(p, f)
    usage = ", ".join(f"{shown(f'light_usage_{label}', p)} of {label}" for label in REPORTED_CLASSES
                      if p.record.light_usage_per_class.get(label) is not None)
    return (
        f'<li><b>{title}:</b> <a href="#trial-{p.number}">trial {p.number}</a> ({escape(p.name)}): '
        f"{f['latency_ms']} ms and {f['power_mw']} mW, that is {f['latency_saved_pct']} less latency and "
        f"{f['power_saved_pct']} less power than full-only (latency saved, 95% interval: {f['latency_saved_95']} %); {quality}. The light path takes {usage or 'no labelled'} segments "
        f"({f['light_usage']} overall). Model size: {f['params_full_pass']} parameters on the full pass, "
        f"{f['params_light_pass']} on the light pass (after the switch: {size.full_tail_params:,} vs {size.light_tail_params:,}).{_measured_beside(p)}{_excluded(rec)}</li>"
    )


def _compared(front: ParetoFront, others: Sequence[ParetoFront]) -> str:
    if not others:
        return ""
    fronts = (front, *others)
    return (f"<section><h2>Studies compared</h2>{compare_lines(fronts)}"
            f"{_figure_html(compare_figure(fronts), 'fig-compare')}</section>")


def _confirmations(front: ParetoFront) -> str:
    confirmed = [p for p in front.points if p.confirmations]
    if not confirmed:
        return ""
    note = ""
    if any(e.comparison is Comparison.RANKING for p in confirmed for e in p.confirmations):
        note = (f'<p class="note">Some runs measured <b>this host</b> against predictions for the <b>{escape(front.profile)}</b> '
                "target profile (compared: ranking). A host's absolute times are not the target's, so their error says "
                "nothing about the cost model; what they check is whether the model orders the candidates as a real CPU does "
                "(Kendall tau below, 1 = same order). Give <code>dslnas confirm --profile</code> a profile calibrated for "
                "the measured device to compare absolute values.</p>")
    return (f"<section><h2>Predicted vs measured</h2>{note}<div class=\"scroll\">{confirmation_table(confirmed)}</div>"
            f"{rank_agreement_list(rank_agreement(confirmed))}</section>")


def _figure_html(fig: go.Figure, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False, "responsive": True})


def _figures_section(front: ParetoFront, history: Sequence[HypervolumeStep], importance: ImportanceResult) -> str:
    blocks = [
        ("Pareto front: quality vs latency", _figure_html(pareto_figure(front, Objective.LATENCY_MS), "fig-pareto-latency"),
         "Dashed lines: the latency budgets. Click a point to see its trial below."),
        ("Pareto front: quality vs power", _figure_html(pareto_figure(front, Objective.POWER_MW), "fig-pareto-power"), ""),
        ("Threshold sweep", _figure_html(sweep_figure(front), "fig-sweep"),
         "The same trained candidate re-routed at other thresholds (no retraining): higher tau, more light path."),
        ("Cost breakdown", _figure_html(cost_figure(front), "fig-cost"), "Per-part predicted latency of each front candidate."),
        ("Hypervolume over trials", _figure_html(hypervolume_figure(history), "fig-hypervolume"),
         "How much of the objective space the feasible trials so far dominate; flat stretches found nothing new."),
        ("Search history", _figure_html(history_figure(steps := candidate_history(front)), "fig-history")
         + knobs_tried_html(knobs_tried_of(front)), history_caption(steps)),
    ]
    if importance.by_objective:
        blocks.append(("Knob importance", _figure_html(importance_figure(importance), "fig-importance"), ""))
    else:
        blocks.append(("Knob importance", "", f"Knob importance could not be computed: {escape(importance.note or '')}."))
    return "".join(f"<section><h2>{escape(t)}</h2>{body}<p class=\"caption\">{cap}</p></section>" for t, body, cap in blocks)


def _trials_section(front: ParetoFront) -> str:
    return (
        '<section><h2>All trials</h2><p class="caption">Click a column title to sort. Files beside this page: '
        '<a href="trials.csv">trials.csv</a>, <a href="pareto.json">pareto.json</a>, PNG figures in <a href="png/">png/</a>.'
        f'</p><div class="scroll">{trial_table(front)}</div></section>'
    )
