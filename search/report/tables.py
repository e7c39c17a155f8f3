"""HTML tables of the report: recommendations, confirmations and every trial (sortable, one anchor per trial).

Cells carry their raw number in ``data-v`` so the page's sort script orders numbers as numbers. Every
string from the study goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from dslnas.hw_models.cost import mix
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.records import PathConfirmation, summarise_confirmations
from dslnas.search.report.metrics import RankAgreement

Cell = tuple[str, float | None]  # (shown text, raw value for sorting; None sorts as text)


def fmt(value: float | None, spec: str = ".2f", suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:{spec}}{suffix}"


def table(headers: Sequence[str], rows: Iterable[tuple[str, Sequence[Cell]]], css: str = "sortable") -> str:
    """``rows``: (tr attributes, cells). Text in cells must already be escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for attrs, cells in rows:
        tds = "".join(f'<td data-v="{v!r}">{t}</td>' if v is not None else f"<td>{t}</td>" for t, v in cells)
        body.append(f"<tr{attrs}>{tds}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _num(value: float | None, spec: str = ".2f", suffix: str = "") -> Cell:
    return fmt(value, spec, suffix), value


def _usage(point: FrontPoint, label: str) -> float | None:
    return point.record.light_usage_per_class.get(label)


def pick_table(rows: Sequence[tuple[str, FrontPoint | None]]) -> str:
    """One row per (label, point): cost, savings against full-only, quality, usage and size; no point: "none fits"."""
    headers = ("", "trial", "latency (ms)", "latency saved", "power (mW)", "power saved", "ViSQOL", "quality lost",
               "light on silence", "light on speech", "params full pass", "params light pass")
    body = []
    for label, p in rows:
        if p is None:
            body.append(("", [(escape(label), None), ("none fits", None)] + [("-", None)] * (len(headers) - 2)))
            continue
        s = p.savings
        body.append(("", [
            (escape(label), None), (f'<a href="#trial-{p.number}">#{p.number}</a> {escape(p.name)}', p.number),
            _num(p.record.latency_ms), _num(s.latency_saved_pct, ".1f", " %"), _num(p.record.power_mw),
            _num(s.power_saved_pct, ".1f", " %"), _num(p.record.visqol_mixed, ".3f"), _num(s.visqol_lost, "+.3f"),
            _num(_usage(p, "silence"), ".0%"), _num(_usage(p, "speech"), ".0%"),
            _num(p.size.full_pass_params, ",d"), _num(p.size.light_pass_params, ",d"),
        ]))
    return table(headers, body, "plain")


def confirmation_table(points: Sequence[FrontPoint]) -> str:
    headers = ("trial", "path", "runner", "device", "compared", "runs", "repeats", "predicted (ms)", "profile",
               "measured (ms)", "error", "predicted energy (uJ)", "measured energy (uJ)", "energy error", "failures")
    rows = [("", _confirmation_cells(p, c)) for p in points for c in summarise_confirmations(p.confirmations)]
    return table(headers, rows)


def _confirmation_cells(point: FrontPoint, c: PathConfirmation) -> list[Cell]:
    failures = "<br>".join(escape(f) for f in c.failures) or "-"
    return [
        (f'<a href="#trial-{point.number}">#{point.number}</a>', point.number), (escape(c.path), None),
        (escape(c.runner), None), (escape(c.device), None), (escape(c.comparison.value), None), _num(c.runs, "d"),
        _num(c.repeats, "d"), _num(c.predicted_latency_ms, ".3f"), (escape(c.predicted_profile), None),
        _num(c.measured_latency_ms, ".3f"), _num(c.error_pct, "+.1f", " %"), _num(c.predicted_energy_uj, ".2f"),
        _num(c.measured_energy_uj, ".2f"), _num(c.energy_error_pct, "+.1f", " %"), (failures, None),
    ]


def rank_agreement_list(agreements: Sequence[RankAgreement]) -> str:
    items = [
        f"<li>{escape(a.path)} path on {escape(a.device)} ({escape(a.runner)}): "
        + (f"Kendall tau {a.kendall_tau:+.2f} over {a.candidates} candidates" if a.kendall_tau is not None
           else f"no ranking to check ({a.candidates} candidate(s), no two with different predictions)")
        + "</li>"
        for a in agreements
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


# Before the knob columns (the space's knob table) and after them.
TRIAL_HEAD = ("trial", "state", "role", "candidate", "why not on the front", "feasible", "on front", "ViSQOL mixed",
              "ViSQOL full", "latency (ms)", "power (mW)", "light usage", "light on silence", "light on speech",
              "mask zeros", "threshold", "trained by", "light tail start", "switch-backs /s", "switch Spearman", "share of oracle saving",
              "flash (KiB)", "RAM (KiB)", "real-time factor", "placement")
TRIAL_TAIL = ("measured full (ms)", "measured light (ms)", "measured mixed (ms)")


def trial_table(front: ParetoFront) -> str:
    headers = TRIAL_HEAD + tuple(c.replace("_", " ") for c in front.knob_columns) + TRIAL_TAIL
    rows = [(_row_attrs(p.number, _status(p)), _point_cells(p, front.knob_columns)) for p in front.points]
    for t in front.unfinished:
        cells = [(f"#{t.number}", t.number), (escape(t.state.lower()), None), (escape(t.role.value), None), ("-", None),
                 (f'<span class="reason">{escape(t.reason)}</span>', None)]
        cells += [("-", None)] * (len(headers) - len(cells))
        rows.append((_row_attrs(t.number, "failed"), cells))
    rows.sort(key=lambda r: r[1][0][1])
    return table(headers, rows)


def _row_attrs(number: int, status: str) -> str:
    return f' id="trial-{number}" class="{status}"'


def _status(point: FrontPoint) -> str:
    return "front" if point.on_front else "dominated" if point.feasible else "infeasible"


def _measured_ms(point: FrontPoint) -> dict[str, float]:
    """Latest device's measured latency per path, and the mixed pass at the trial's light usage."""
    done = [c for c in summarise_confirmations(point.confirmations) if c.measured_latency_ms is not None]
    by_path = {c.path: c.measured_latency_ms for c in done if c.device == done[-1].device} if done else {}
    if "full" in by_path and "light" in by_path:
        by_path["mixed"] = mix(by_path["full"], by_path["light"], point.record.light_usage).mixed
    return by_path


def _why_not(point: FrontPoint) -> str:
    if not point.feasible:
        return ", ".join(f"breaks {name} by {excess:.3g}" for name, excess in point.broken_constraints.items())
    return "dominated" if point.dominated else ""


def _point_cells(p: FrontPoint, knob_columns: Sequence[str]) -> list[Cell]:
    rec, measured = p.record, _measured_ms(p)
    return [
        (f"#{p.number}", p.number), ("complete", None), (escape(p.role.value), None), (escape(p.name), None),
        (f'<span class="reason">{escape(_why_not(p))}</span>', None), ("yes" if p.feasible else "no", None),
        ("yes" if p.on_front else "no", None),
        _num(rec.visqol_mixed, ".3f"), _num(rec.visqol_full, ".3f"), _num(rec.latency_ms), _num(rec.power_mw),
        _num(rec.light_usage, ".0%"), _num(_usage(p, "silence"), ".0%"), _num(_usage(p, "speech"), ".0%"),
        _num(rec.sparsity, ".0%"), _num(rec.threshold, ".3g"), (f'<a href="#trial-{p.trained_trial}">#{p.trained_trial}</a>', p.trained_trial),
        (escape(rec.light_start or "-"), None), _num(rec.transitions_per_s, ".2f"), _num(rec.switch.spearman, ".2f"),
        _num(rec.switch.oracle_saving_fraction, ".0%"),
        _num(rec.cost.flash_kib.mixed, ".1f"), _num(rec.cost.ram_kib.mixed, ".1f"), _num(rec.cost.real_time_factor.mixed, ".3f"),
        (escape(rec.cost.placement or "one unit"), None),
        *(_knob_cell(p.knobs.get(c)) for c in knob_columns),
        _num(measured.get("full"), ".3f"), _num(measured.get("light"), ".3f"), _num(measured.get("mixed"), ".3f"),
    ]


def _knob_cell(value: object) -> Cell:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value)), None
    return _num(value, "d" if isinstance(value, int) else ".3g")
