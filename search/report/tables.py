"""HTML tables of the report: recommendations, confirmations and every trial (sortable, one anchor per trial).

Cells carry their raw number in ``data-v`` so the page's sort script orders numbers as numbers. Every
string from the study goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any, TypeVar

from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.records import summarise_confirmations
from dslnas.search.records.fields import Field
from dslnas.search.report.columns import COLUMNS, CONFIRMATION_FIELDS, PICK_TABLE, TRIAL_TABLE, TRIAL_TABLE_TAIL, knob_columns
from dslnas.search.report.metrics import RankAgreement

S = TypeVar("S")
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


def field_cell(name: str, point: FrontPoint) -> Cell:
    """One field of ``point`` as a cell (:func:`cell_of`)."""
    return cell_of(COLUMNS[name], point)


def cell_of(field: Field[S], source: S) -> Cell:
    """A field of ``source`` as a cell: escaped text (links, reasons and failures marked up), its number for sorting."""
    value = field.read(source)
    text = escape(field.text(value))
    markup = _MARKUP.get(field.name)
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return (markup(value, text) if markup and value is not None else text), number


_MARKUP: dict[str, Callable[[Any, str], str]] = {
    "trial": lambda number, text: f"#{text}",
    "trained_trial": lambda number, text: f'<a href="#trial-{number}">#{text}</a>',
    "reason": lambda value, text: f'<span class="reason">{text}</span>',
    "failures": lambda failures, text: "<br>".join(escape(f) for f in failures) or "-",
}


def pick_table(rows: Sequence[tuple[str, FrontPoint | None]]) -> str:
    """One row per (label, point): the :data:`PICK_TABLE` fields (cost, savings against full-only, quality, usage,
    size); no point: "none fits"."""
    headers = ("", "trial", *(COLUMNS[c].title for c in PICK_TABLE))
    body = []
    for label, p in rows:
        if p is None:
            body.append(("", [(escape(label), None), ("none fits", None)] + [("-", None)] * len(PICK_TABLE)))
            continue
        body.append(("", [(escape(label), None), (f'<a href="#trial-{p.number}">#{p.number}</a> {escape(p.name)}', p.number),
                          *(field_cell(c, p) for c in PICK_TABLE)]))
    return table(headers, body, "plain")


def confirmation_table(points: Sequence[FrontPoint]) -> str:
    """One row per (trial, path) confirmation: the trial's link, then the :data:`CONFIRMATION_FIELDS`."""
    headers = ("trial", *(f.title for f in CONFIRMATION_FIELDS))
    rows = [("", [(f'<a href="#trial-{p.number}">#{p.number}</a>', p.number), *(cell_of(f, c) for f in CONFIRMATION_FIELDS)])
            for p in points for c in summarise_confirmations(p.confirmations)]
    return table(headers, rows)


def rank_agreement_list(agreements: Sequence[RankAgreement]) -> str:
    items = [
        f"<li>{escape(a.path)} path on {escape(a.device)} ({escape(a.runner)}): "
        + (f"Kendall tau {a.kendall_tau:+.2f} over {a.candidates} candidates" if a.kendall_tau is not None
           else f"no ranking to check ({a.candidates} candidate(s), no two with different predictions)")
        + "</li>"
        for a in agreements
    ]
    return f"<ul>{''.join(items)}</ul>" if items else ""


def trial_table(front: ParetoFront) -> str:
    """Every trial: the :data:`TRIAL_TABLE` fields, the knob columns, the measured latencies."""
    knobs = knob_columns(front)
    headers = (*(COLUMNS[c].title for c in TRIAL_TABLE), *(c.replace("_", " ") for c in knobs),
               *(COLUMNS[c].title for c in TRIAL_TABLE_TAIL))
    rows = [(_row_attrs(p.number, _status(p)), [*(field_cell(c, p) for c in TRIAL_TABLE),
                                                 *(_knob_cell(p.knobs.get(c)) for c in knobs),
                                                 *(field_cell(c, p) for c in TRIAL_TABLE_TAIL)])
            for p in front.points]
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


def _knob_cell(value: object) -> Cell:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return escape(str(value)), None
    return _num(value, "d" if isinstance(value, int) else ".3g")
