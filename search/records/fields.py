"""Each recorded quantity declared once: a table of fields (name, unit, how to read it, format).

A :class:`Field` names a quantity the way scripts see it (its CSV column and JSON key, the unit in the name
where it has one), gives its title for HTML tables, its unit, how to read it from a source value (a
:class:`TrialRecord` here; ``search.report.columns`` lifts these onto front points and adds the front's
own), and how to show it. ``trials --json`` (:func:`record_fields_json`), the report's CSV, its HTML tables
and its "what to pick" lines all derive from these tables: adding a metric is one entry below.

A value that is not defined (a NaN rank correlation, a class the evaluation did not hold) stays NaN or None
and shows as ``-``; it never becomes a number.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from dslnas.search.records.trial_record import TrialRecord
from dslnas.spaces.labels import SILENCE, SPEECH

S = TypeVar("S")
T = TypeVar("T")


class Unit(str, enum.Enum):
    """What a field's number means ("" for names, flags and counts)."""

    MOS = "MOS-LQO"
    MS = "ms"
    MW = "mW"
    UJ = "uJ"
    KIB = "KiB"
    PER_S = "1/s"
    BYTES_PER_S = "B/s"
    SHARE = "share"      # 0..1 (shown as a percentage)
    PCT = "%"
    RATIO = "ratio"
    NONE = ""


@dataclass(frozen=True)
class Field(Generic[S]):
    """One quantity: ``name`` (CSV column, JSON key), ``title`` (HTML), ``unit``, ``read`` (from a source
    value) and ``spec`` (the format of its text; ``""``: the value as a string)."""

    name: str
    title: str
    unit: Unit
    read: Callable[[S], Any]
    spec: str = ""
    suffix: str = ""

    def text(self, value: Any) -> str:
        """The shown text: ``-`` for a missing or NaN value, yes/no for a flag, an enum's value, else ``spec``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, enum.Enum):
            return str(value.value)
        return f"{value:{self.spec}}{self.suffix}" if self.spec else str(value)

    def over(self, get: Callable[[T], S]) -> "Field[T]":
        """The same field read from a value that holds its source (``get`` reaches the source)."""
        read = self.read
        return replace(self, read=lambda holder: read(get(holder)))  # type: ignore[return-value]


def json_value(value: Any) -> Any:
    """A field's value in JSON: an enum's value, None for NaN/inf (never a made-up number)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _share(label: str) -> Callable[[TrialRecord], float | None]:
    return lambda r: r.light_usage_per_class.get(label)


RECORD_FIELDS: tuple[Field[TrialRecord], ...] = (
    Field("visqol_mixed", "ViSQOL mixed", Unit.MOS, lambda r: r.visqol.mixed, ".3f"),
    Field("visqol_full", "ViSQOL full", Unit.MOS, lambda r: r.visqol.full, ".3f"),
    Field("visqol_light", "ViSQOL light", Unit.MOS, lambda r: r.visqol.light, ".3f"),
    Field("latency_ms", "latency (ms)", Unit.MS, lambda r: r.cost.latency_ms.mixed, ".2f"),
    Field("power_mw", "power (mW)", Unit.MW, lambda r: r.cost.power_mw.mixed, ".2f"),
    Field("latency_full_ms", "latency full (ms)", Unit.MS, lambda r: r.cost.latency_ms.full, ".2f"),
    Field("latency_light_ms", "latency light (ms)", Unit.MS, lambda r: r.cost.latency_ms.light, ".2f"),
    Field("power_full_mw", "power full (mW)", Unit.MW, lambda r: r.cost.power_mw.full, ".2f"),
    Field("power_light_mw", "power light (mW)", Unit.MW, lambda r: r.cost.power_mw.light, ".2f"),
    Field("light_usage", "light usage", Unit.SHARE, lambda r: r.light_usage, ".0%"),
    Field("light_usage_silence", "light on silence", Unit.SHARE, _share(SILENCE), ".0%"),
    Field("light_usage_speech", "light on speech", Unit.SHARE, _share(SPEECH), ".0%"),
    Field("mask_sparsity", "mask zeros", Unit.SHARE, lambda r: r.sparsity, ".0%"),
    Field("threshold", "threshold", Unit.NONE, lambda r: r.threshold, ".3g"),
    Field("light_start", "light tail start", Unit.NONE, lambda r: r.light_start),
    Field("fidelity_steps", "fine-tune steps (low fidelity)", Unit.NONE, lambda r: r.fidelity_steps),
    Field("transitions_per_s", "switch-backs /s", Unit.PER_S, lambda r: r.transitions_per_s, ".2f"),
    Field("switch_spearman", "switch Spearman", Unit.RATIO, lambda r: r.switch.spearman, ".2f"),
    Field("oracle_saving_fraction", "share of oracle saving", Unit.SHARE, lambda r: r.switch.oracle_saving_fraction, ".0%"),
    Field("state_policy", "state policy", Unit.NONE, lambda r: r.candidate.dsl.state_policy),
    Field("flash_kib", "flash (KiB)", Unit.KIB, lambda r: r.cost.flash_kib.mixed, ".1f"),
    Field("ram_kib", "RAM (KiB)", Unit.KIB, lambda r: r.cost.ram_kib.mixed, ".1f"),
    Field("real_time_factor", "real-time factor", Unit.RATIO, lambda r: r.cost.real_time_factor.mixed, ".3f"),
    Field("latency_error_pct", "latency error band", Unit.PCT, lambda r: r.cost.latency_error_pct, ".1f", " %"),
    Field("profile_provenance", "profile", Unit.NONE, lambda r: r.cost.provenance),
    Field("placement", "placement", Unit.NONE, lambda r: r.cost.placement or "one unit"),
    Field("link_bytes_per_s", "link bytes /s", Unit.BYTES_PER_S, lambda r: r.cost.link_bytes_per_s, ",.0f"),
    Field("wakeups_per_s", "wake-ups /s", Unit.PER_S, lambda r: r.cost.wakeups_per_s, ".1f"),
)
"""What one trial record measured, in the order CSV and JSON list it."""


def field_table(fields: Sequence[Field[S]]) -> dict[str, Field[S]]:
    """Name -> field; a name declared twice is a programming error (ValueError naming it)."""
    table: dict[str, Field[S]] = {}
    for f in fields:
        if f.name in table:
            raise ValueError(f"field {f.name!r} is declared twice")
        table[f.name] = f
    return table


def record_fields_json(record: TrialRecord) -> dict[str, Any]:
    """Every record field by name, JSON-ready (what ``trials --json`` prints beside the stored record)."""
    return {f.name: json_value(f.read(record)) for f in RECORD_FIELDS}


def record_units() -> dict[str, str]:
    """Field name -> unit, for scripts that read :func:`record_fields_json`."""
    return {f.name: f.unit.value for f in RECORD_FIELDS}
