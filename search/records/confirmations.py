"""On-device confirmation entries, as typed values, and where they live in the study.

Each confirm run stores its :class:`ConfirmationEntry` values (one per measured path) in a study user attr
of its own, ``dslnas.confirmations.trial-<N>.<run-id>`` (see :func:`confirmation_run_key`; the run id sorts
by time): running it again adds runs (repeats), never overwrites, and two runs at once write different
keys, so neither loses the other's entries. Entries of older studies in the single list
``dslnas.confirmations.trial-<N>`` (:func:`confirmations_key`) are read first. Torch-free: computing a front reads these without the converter.
"""

from __future__ import annotations

import enum
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from dslnas.search.records.attrs import STUDY_ATTR_CONFIRMATIONS

if TYPE_CHECKING:
    import optuna


class Comparison(str, enum.Enum):
    """What a measured value can be compared with (see the module docstring)."""

    ABSOLUTE = "absolute"  # the prediction is for the measured device
    RANKING = "ranking"    # host measured, prediction for the target profile: only the order is comparable


@dataclass(frozen=True)
class ConfirmationEntry:
    """One measurement run of one path of one trial, with the prediction it is compared with.

    ``error_pct`` = (measured - predicted) / predicted * 100. ``failure``: why there is no measured value.
    Power has one definition throughout: energy per inference. ``measured_power_mw`` is what a meter reads
    while inferring back to back (active minus idle); divided by the measured rate it is
    ``measured_energy_uj``, compared with the prediction's ``predicted_energy_uj`` (``energy_error_pct``).
    ``power_error_pct`` is kept for old entries and no longer written: it compared back-to-back power with
    the average at the deployment's rate, a bias of about the inverse duty cycle.
    """

    path: str
    runner: str
    device: str
    timestamp: str
    comparison: Comparison
    predicted_profile: str
    predicted_latency_ms: float
    predicted_power_mw: float
    artifact: str = ""
    measured_latency_ms: float | None = None
    measured_latency_ms_p10: float | None = None
    measured_latency_ms_p90: float | None = None
    repeats: int = 0
    measured_power_mw: float | None = None
    error_pct: float | None = None
    power_error_pct: float | None = None
    predicted_energy_uj: float | None = None
    measured_energy_uj: float | None = None
    energy_error_pct: float | None = None
    failure: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.measured_latency_ms is not None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "comparison": self.comparison.value}

    @staticmethod
    def from_json(data: dict[str, Any]) -> "ConfirmationEntry":
        known = {f.name for f in fields(ConfirmationEntry)}
        entry = ConfirmationEntry(**{k: v for k, v in data.items() if k in known})
        return replace(entry, comparison=Comparison(entry.comparison))


@dataclass(frozen=True)
class PathConfirmation:
    """All runs of one path on one device: measured latency is the repeats-weighted mean of run medians."""

    path: str
    runner: str
    device: str
    comparison: Comparison
    predicted_profile: str
    predicted_latency_ms: float
    predicted_power_mw: float
    runs: int
    repeats: int
    measured_latency_ms: float | None
    measured_power_mw: float | None          # back to back, active minus idle
    failures: tuple[str, ...]
    predicted_energy_uj: float | None = None
    measured_energy_uj: float | None = None  # the runs' mean energy per inference

    @property
    def error_pct(self) -> float | None:
        return error_pct(self.measured_latency_ms, self.predicted_latency_ms)

    @property
    def energy_error_pct(self) -> float | None:
        return error_pct(self.measured_energy_uj, self.predicted_energy_uj)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "comparison": self.comparison.value, "error_pct": self.error_pct,
                "energy_error_pct": self.energy_error_pct}


def summarise_confirmations(entries: Sequence[ConfirmationEntry]) -> tuple[PathConfirmation, ...]:
    """One :class:`PathConfirmation` per (path, runner, device, predicted profile, comparison), in first-seen order."""
    groups: dict[tuple[str, ...], list[ConfirmationEntry]] = {}
    for e in entries:
        groups.setdefault((e.path, e.runner, e.device, e.predicted_profile, e.comparison), []).append(e)
    return tuple(_summarise(group) for group in groups.values())


def _summarise(group: list[ConfirmationEntry]) -> PathConfirmation:
    measured = [e for e in group if e.ok]
    weights = [max(e.repeats, 1) for e in measured]
    latency = sum(w * e.measured_latency_ms for w, e in zip(weights, measured)) / sum(weights) if measured else None
    powers = [e.measured_power_mw for e in measured if e.measured_power_mw is not None]
    energies = [e.measured_energy_uj for e in measured if e.measured_energy_uj is not None]
    last = group[-1]
    return PathConfirmation(
        last.path, last.runner, last.device, last.comparison, last.predicted_profile, last.predicted_latency_ms,
        last.predicted_power_mw, len(measured), sum(e.repeats for e in measured), latency,
        sum(powers) / len(powers) if powers else None, tuple(e.failure for e in group if e.failure),
        last.predicted_energy_uj, sum(energies) / len(energies) if energies else None,
    )


def error_pct(measured: float | None, predicted: float | None) -> float | None:
    if measured is None or not predicted:
        return None
    return (measured - predicted) / predicted * 100.0


def confirmations_key(trial_number: int) -> str:
    """The study user attr holding a trial's entries (``dslnas.confirmations.trial-<N>``).

    Study attrs, not trial attrs: Optuna refuses to change a finished trial (``UpdateFinishedTrialError``
    on RDB storages), and confirmation always comes after the trial finished.
    """
    return f"{STUDY_ATTR_CONFIRMATIONS}.trial-{trial_number}"


def confirmation_run_key(trial_number: int, run_id: str) -> str:
    """The study user attr holding one confirm run's entries for a trial."""
    return f"{confirmations_key(trial_number)}.{run_id}"


def new_run_id() -> str:
    """A run id that sorts by start time (nanoseconds), unique across hosts (a random suffix)."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def stored_confirmations(study_user_attrs: dict[str, Any], trial_number: int) -> tuple[ConfirmationEntry, ...]:
    """The entries stored for ``trial_number``, oldest first, from a study's ``user_attrs``."""
    legacy = confirmations_key(trial_number)
    runs = sorted(k for k in study_user_attrs if k.startswith(legacy + "."))
    stored = [*study_user_attrs.get(legacy, ()), *(e for k in runs for e in study_user_attrs[k])]
    return tuple(ConfirmationEntry.from_json(e) for e in stored)


def append_confirmations(study: optuna.Study, trial_number: int, entries: Sequence[ConfirmationEntry],
                         run_id: str | None = None) -> str:
    """Store ``entries`` as one run of their own after those already stored; returns the run's key.

    One write of a new key (no read-modify-write), so runs at the same moment lose nothing."""
    key = confirmation_run_key(trial_number, run_id or new_run_id())
    study.set_user_attr(key, [e.to_json() for e in entries])
    return key
