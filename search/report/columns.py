"""The report's columns: the record's fields (:mod:`dslnas.search.records.fields`) lifted onto front points, the
front's own fields (feasibility, savings, size, measurements), and which of them each table shows.

The CSV, the HTML trial table, the "what to pick" table and sentences all read :data:`COLUMNS`; a table is a
tuple of names. The space's knob columns follow the fixed ones, except a knob that is already a field (a
space that searches the state policy): each column is written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from dslnas.hw_models.cost import Pass, mix
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.records import PathConfirmation, summarise_confirmations
from dslnas.search.records.fields import RECORD_FIELDS, Field, Unit, field_table, json_value
from dslnas.search.uncertainty import Interval
from dslnas.spaces.labels import REPORTED_CLASSES


def measured_ms(point: FrontPoint) -> dict[str, float]:
    """Latest device's measured latency per path, and the mixed pass at the trial's light usage."""
    done = [c for c in summarise_confirmations(point.confirmations) if c.measured_latency_ms is not None]
    by_path = {c.path: c.measured_latency_ms for c in done if c.device == done[-1].device} if done else {}
    if Pass.FULL in by_path and Pass.LIGHT in by_path:
        by_path[Pass.MIXED] = mix(by_path[Pass.FULL], by_path[Pass.LIGHT], point.record.light_usage).mixed
    return by_path


def why_not(point: FrontPoint) -> str:
    """Why a point is not on the front: the constraints it breaks and by how much, or "dominated"."""
    if not point.feasible:
        return ", ".join(f"breaks {name} by {excess:.3g}" for name, excess in point.broken_constraints.items())
    return "dominated" if point.dominated else ""


def _interval(point: FrontPoint, which: str) -> Interval | None:
    """The point's bootstrap interval ``which`` (``visqol_lost``, ``latency_saved_pct`` or ``visqol_lost_<class>``)."""
    u = point.uncertainty
    if u is None:
        return None
    if which.startswith("visqol_lost_") and which.removeprefix("visqol_lost_") in u.visqol_lost_per_class:
        return u.visqol_lost_per_class[which.removeprefix("visqol_lost_")]
    return getattr(u, which, None)


def interval_text(interval: Interval | None, spec: str = "+.3f") -> str | None:
    """``low .. high`` of a known interval (None: no per-clip scores)."""
    return f"{interval.low:{spec}} .. {interval.high:{spec}}" if interval is not None and interval.known else None


def _bound(which: str, end: str) -> Callable[[FrontPoint], float | None]:
    return lambda p: getattr(i, end) if (i := _interval(p, which)) is not None and i.known else None


def _noise(p: FrontPoint) -> bool | None:
    i = _interval(p, "visqol_lost")
    return i.within_noise if i is not None and i.known else None


def _class_lost(label: str) -> tuple[Field[FrontPoint], ...]:
    name = f"visqol_lost_{label}"
    return (Field(name, f"{label} quality lost", Unit.MOS, lambda p: (i := _interval(p, name)) and i.mean, "+.3f"),
            Field(f"{name}_95", f"{label} lost, 95% interval", Unit.MOS, lambda p: interval_text(_interval(p, name))))


def _measured(path: Pass) -> Field[FrontPoint]:
    return Field(f"measured_latency_{path.value}_ms", f"measured {path.value} (ms)", Unit.MS,
                 lambda p: measured_ms(p).get(path), ".3f")


POINT_FIELDS: tuple[Field[FrontPoint], ...] = (
    Field("trial", "trial", Unit.NONE, lambda p: p.number, "d"),
    Field("state", "state", Unit.NONE, lambda p: "complete"),
    Field("role", "role", Unit.NONE, lambda p: p.role),
    Field("candidate", "candidate", Unit.NONE, lambda p: p.name),
    Field("reason", "why not on the front", Unit.NONE, why_not),
    Field("feasible", "feasible", Unit.NONE, lambda p: p.feasible),
    Field("dominated", "dominated", Unit.NONE, lambda p: p.dominated),
    Field("on_front", "on front", Unit.NONE, lambda p: p.on_front),
    *(f.over(lambda p: p.record) for f in RECORD_FIELDS),
    Field("latency_saved_pct", "latency saved", Unit.PCT, lambda p: p.savings.latency_saved_pct, ".1f", " %"),
    Field("power_saved_pct", "power saved", Unit.PCT, lambda p: p.savings.power_saved_pct, ".1f", " %"),
    Field("visqol_lost", "quality lost", Unit.MOS, lambda p: p.savings.visqol_lost, "+.3f"),
    Field("visqol_lost_95", "quality lost, 95% interval", Unit.MOS, lambda p: interval_text(_interval(p, "visqol_lost"))),
    Field("visqol_lost_low", "quality lost, low", Unit.MOS, _bound("visqol_lost", "low"), "+.3f"),
    Field("visqol_lost_high", "quality lost, high", Unit.MOS, _bound("visqol_lost", "high"), "+.3f"),
    Field("within_noise", "loss within clip noise", Unit.NONE, _noise),
    *(f for label in REPORTED_CLASSES for f in _class_lost(label)),
    Field("latency_saved_95", "latency saved, 95% interval", Unit.PCT,
          lambda p: interval_text(_interval(p, "latency_saved_pct"), ".1f")),
    Field("scored_clips", "scored clips", Unit.NONE, lambda p: p.uncertainty.visqol_lost.clips if p.uncertainty else None, "d"),
    Field("params_full_pass", "params full pass", Unit.NONE, lambda p: p.size.full_pass_params, ",d"),
    Field("params_light_pass", "params light pass", Unit.NONE, lambda p: p.size.light_pass_params, ",d"),
    Field("trained_trial", "trained by", Unit.NONE, lambda p: p.trained_trial, "d"),
    Field("constraints", "constraints", Unit.NONE, lambda p: json.dumps(p.constraints)),
    *(_measured(path) for path in (Pass.FULL, Pass.LIGHT, Pass.MIXED)),
)
COLUMNS: dict[str, Field[FrontPoint]] = field_table(POINT_FIELDS)

CSV_COLUMNS: tuple[str, ...] = tuple(COLUMNS)
"""Every field, in declaration order (the knob columns follow)."""
TRIAL_TABLE: tuple[str, ...] = (
    "trial", "state", "role", "candidate", "reason", "feasible", "on_front", "visqol_mixed", "visqol_full", "latency_ms",
    "power_mw", "light_usage", "light_usage_silence", "light_usage_speech", "mask_sparsity", "threshold", "trained_trial",
    "light_start", "transitions_per_s", "switch_spearman", "oracle_saving_fraction", "flash_kib", "ram_kib",
    "real_time_factor", "placement", "link_bytes_per_s", "wakeups_per_s",
)
TRIAL_TABLE_TAIL: tuple[str, ...] = ("measured_latency_full_ms", "measured_latency_light_ms", "measured_latency_mixed_ms")
PICK_TABLE: tuple[str, ...] = (
    "latency_ms", "latency_saved_pct", "latency_saved_95", "power_mw", "power_saved_pct", "visqol_mixed", "visqol_lost",
    "visqol_lost_95", "visqol_lost_silence_95", "visqol_lost_speech_95", "light_usage_silence", "light_usage_speech", "params_full_pass", "params_light_pass",
)


def knob_columns(front: ParetoFront) -> tuple[str, ...]:
    """The space's knob columns that are not already a field (each column once)."""
    return tuple(c for c in front.knob_columns if c not in COLUMNS)


def csv_columns(front: ParetoFront) -> tuple[str, ...]:
    return CSV_COLUMNS + knob_columns(front)


def csv_row(point: FrontPoint, columns: Sequence[str]) -> dict[str, Any]:
    """One CSV row: each field's value as read, an enum as its value (a knob column: the point's knob value)."""
    return {c: json_value(COLUMNS[c].read(point)) if c in COLUMNS else point.knobs.get(c) for c in columns}


def shown(name: str, point: FrontPoint) -> str:
    """The text of one field of ``point`` as the report shows it (not HTML-escaped)."""
    field = COLUMNS[name]
    return field.text(field.read(point))


CONFIRMATION_FIELDS: tuple[Field[PathConfirmation], ...] = (
    Field("path", "path", Unit.NONE, lambda c: c.path),
    Field("runner", "runner", Unit.NONE, lambda c: c.runner),
    Field("device", "device", Unit.NONE, lambda c: c.device),
    Field("comparison", "compared", Unit.NONE, lambda c: c.comparison),
    Field("runs", "runs", Unit.NONE, lambda c: c.runs, "d"),
    Field("repeats", "repeats", Unit.NONE, lambda c: c.repeats, "d"),
    Field("predicted_latency_ms", "predicted (ms)", Unit.MS, lambda c: c.predicted_latency_ms, ".3f"),
    Field("predicted_profile", "profile", Unit.NONE, lambda c: c.predicted_profile),
    Field("measured_latency_ms", "measured (ms)", Unit.MS, lambda c: c.measured_latency_ms, ".3f"),
    Field("error_pct", "error", Unit.PCT, lambda c: c.error_pct, "+.1f", " %"),
    Field("predicted_energy_uj", "predicted energy (uJ)", Unit.UJ, lambda c: c.predicted_energy_uj, ".2f"),
    Field("measured_energy_uj", "measured energy (uJ)", Unit.UJ, lambda c: c.measured_energy_uj, ".2f"),
    Field("energy_error_pct", "energy error", Unit.PCT, lambda c: c.energy_error_pct, "+.1f", " %"),
    Field("failures", "failures", Unit.NONE, lambda c: tuple(c.failures)),
)
"""One on-device confirmation of one path, as the report's confirmation table shows it."""
