"""On-device confirmation entries, as typed values, and where they live in the study.

Each confirm run appends one :class:`ConfirmationEntry` per measured path to the trial's list, stored in
the study user attr ``dslnas.confirmations.trial-<N>`` (see :func:`confirmations_key`): running it again
adds runs (repeats), never overwrites. Torch-free: computing a front reads these without the converter.
"""

from __future__ import annotations

import enum
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
    measured_power_mw: float | None
    failures: tuple[str, ...]

    @property
    def error_pct(self) -> float | None:
        return error_pct(self.measured_latency_ms, self.predicted_latency_ms)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "comparison": self.comparison.value, "error_pct": self.error_pct}

    @property
    def powererror_pct(self) -> float | None:
        return error_pct(self.measured_power_mw, self.predicted_power_mw)


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
    last = group[-1]
    return PathConfirmation(
        last.path, last.runner, last.device, last.comparison, last.predicted_profile, last.predicted_latency_ms,
        last.predicted_power_mw, len(measured), sum(e.repeats for e in measured), latency,
        sum(powers) / len(powers) if powers else None, tuple(e.failure for e in group if e.failure),
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


def stored_confirmations(study_user_attrs: dict[str, Any], trial_number: int) -> tuple[ConfirmationEntry, ...]:
    """The entries stored for ``trial_number``, oldest first, from a study's ``user_attrs``."""
    return tuple(ConfirmationEntry.from_json(e) for e in study_user_attrs.get(confirmations_key(trial_number), ()))


def append_confirmations(study: optuna.Study, trial_number: int, entries: Sequence[ConfirmationEntry]) -> None:
    """Add ``entries`` after those already stored (read back from storage first, so earlier runs stay).

    Two confirm runs writing the same trial at the same moment may lose one run's entries.
    """
    key = confirmations_key(trial_number)
    stored = list(study.user_attrs.get(key, []))
    study.set_user_attr(key, stored + [e.to_json() for e in entries])
