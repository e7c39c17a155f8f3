"""A trial record's storage JSON, declared once per attribute: the table :data:`STORED_FIELDS`.

Each :class:`TrialRecord` attribute has one :class:`Stored` entry: its JSON key (the attribute's name), how its
typed value is written (``dump``) and read back (``load``), and what a record written before the attribute
existed reads as (``absent``; None: the key is required). :func:`record_to_json` and :func:`record_from_json`
are loops over the table, so the stored JSON holds exactly the record's attributes (a test holds the table to
the dataclass). The named figures scripts read (``trials --json``'s ``fields``, the CSV, the HTML tables) are
the field table's (``search.records.fields``), read from these typed values. No NaN is stored as a number:
undefined figures are null and read back as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dslnas.hw_models.cost import Cost
from dslnas.search.records.attrs import ATTR_RECORD
from dslnas.search.records.trial_record import (
    ClipScore, EvaluatedClass, PathQuality, SwitchQuality, TrialRecord, TrialTiming, VisqolRules,
)
from dslnas.spaces.candidate import STORED, CandidateConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.run_config import LightInit
from dslnas.trainers.sweep_point import SweepPoint

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class Stored:
    """One record attribute in the stored JSON. ``old_key`` / ``load_old``: the key and reader of the format
    records used before this one (read when ``name`` is absent)."""

    name: str
    dump: Callable[[Any], Any]
    load: Callable[[Any], Any]
    absent: Callable[[], Any] | None = None
    old_key: str | None = None
    load_old: Callable[[Any], Any] | None = None


def _nan_as_none(figures: dict[str, Any]) -> dict[str, Any]:
    """Top-level figures in JSON: an undefined one (NaN) is null, never a number (read back as NaN)."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}


def _figure(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _switch_quality(data: dict[str, Any]) -> SwitchQuality:
    return SwitchQuality(_figure(data["spearman"]), _figure(data["mae"]), data.get("oracle_saving_fraction"))


def _sweep_point(data: dict[str, Any]) -> SweepPoint:
    """A stored sweep point (null rates: NaN; records before the one sweep-point type lack the replay rates)."""
    return SweepPoint(**{k: math.nan if v is None else tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _light_start(value: str | None) -> LightInit | None:
    """A stored light-tail start; None for a fresh codec (records before the enum wrote ``"fresh"``, older ones
    nothing)."""
    return None if value in (None, "", "fresh") else LightInit(value)


def _old_rules(data: dict[str, int]) -> VisqolRules | None:
    """``visqol_references`` as records before :class:`VisqolRules` wrote it (``{}``: not counted)."""
    return VisqolRules(int(data["scored"]), int(data["levelled"]), int(data["digital_silence"])) if data else None


def _old_timing(data: dict[str, float]) -> TrialTiming:
    """``timing_s`` as records before :class:`TrialTiming` wrote it."""
    return TrialTiming(*(float(data[k]) for k in ("train", "evaluate", "visqol", "cost")))


def _sweep(points: tuple[SweepPoint, ...]) -> list[dict[str, Any]]:
    return [_nan_as_none(asdict(p)) for p in points]


STORED_FIELDS: tuple[Stored, ...] = (
    Stored("candidate", lambda c: c.model_dump(mode="json"), lambda d: CandidateConfig.model_validate(d, context=STORED)),
    Stored("visqol", asdict, lambda d: PathQuality(**d)),
    Stored("light_usage", float, float),
    Stored("light_usage_per_class", dict, dict),
    Stored("visqol_per_class", lambda m: {k: asdict(v) for k, v in m.items()},
           lambda d: {k: PathQuality(**v) for k, v in d.items()}),
    Stored("sparsity", float, float),
    Stored("transitions_per_s", float, float),
    Stored("switch", lambda s: _nan_as_none(asdict(s)), _switch_quality),
    Stored("cost", Cost.to_record, Cost.from_record),
    Stored("checkpoint", str, str),
    Stored("sweep", _sweep, lambda d: tuple(_sweep_point(p) for p in d)),
    Stored("oracle_sweep", _sweep, lambda d: tuple(_sweep_point(p) for p in d)),
    Stored("timing", asdict, lambda d: TrialTiming(**d), old_key="timing_s", load_old=_old_timing),
    Stored("execution", str, str),
    Stored("visqol_rules", lambda r: None if r is None else asdict(r), lambda d: None if d is None else VisqolRules(**d),
           absent=lambda: None, old_key="visqol_references", load_old=_old_rules),
    Stored("checkpoint_artifact", lambda a: a, lambda a: a, absent=lambda: None),
    Stored("evaluated", lambda m: {k: asdict(v) for k, v in m.items()},
           lambda d: {k: EvaluatedClass(int(v["clips"]), float(v["seconds"]), tuple(v["speakers"])) for k, v in d.items()},
           absent=dict),
    Stored("light_start", lambda s: None if s is None else LightInit(s).value, _light_start, absent=lambda: None),
    Stored("clips", lambda cs: [asdict(c) for c in cs], lambda d: tuple(ClipScore(**c) for c in d), absent=tuple),
    Stored("fidelity_steps", lambda s: s, lambda s: None if s is None else int(s), absent=lambda: None),
)
"""Every :class:`TrialRecord` attribute, in declaration order (``absent``: what records written before it read as)."""


def record_to_json(record: TrialRecord) -> dict[str, Any]:
    """The record as stored: one key per attribute, each written by its :data:`STORED_FIELDS` entry."""
    return {f.name: f.dump(getattr(record, f.name)) for f in STORED_FIELDS}


def record_from_json(data: dict[str, Any]) -> TrialRecord:
    """A stored record as typed values (KeyError naming a required key that is missing)."""
    return TrialRecord(**{f.name: _read(f, data) for f in STORED_FIELDS})


def _read(f: Stored, data: dict[str, Any]) -> Any:
    if f.name in data:
        return f.load(data[f.name])
    if f.old_key is not None and f.old_key in data and f.load_old is not None:
        return f.load_old(data[f.old_key])
    if f.absent is None:
        raise KeyError(f.name)
    return f.absent()


def record_attrs(record: TrialRecord) -> dict[str, Any]:
    """The user attributes that store ``record`` on a trial."""
    return {ATTR_RECORD: record_to_json(record)}


def record_from_trial(trial: "optuna.trial.FrozenTrial") -> TrialRecord | None:
    """The record stored on ``trial``, or None (failed or still running trials have none)."""
    data = trial.user_attrs.get(ATTR_RECORD)
    if not data:
        return None
    try:
        return record_from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"trial {trial.number}'s record was written by another dslnas version "
                        f"({type(err).__name__}: {err}); rerun the search into a new --study") from None
