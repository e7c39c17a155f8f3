"""On-device confirmation: measure chosen candidates' paths and store the result beside the prediction.

Each confirmed candidate is exported path by path (``full`` and ``light``, ``hw_models.export``), each
artifact is measured with a device runner, and one :class:`ConfirmationEntry` per path is appended to the
trial's list, stored in the study user attr ``dslnas.confirmations.trial-<N>`` (see
:func:`confirmations_key`): running it again adds runs (repeats), never overwrites. A path whose export or
measurement fails gets an entry with the reason and no measured value; the trial's prediction is left as
it was.

What the measured value is compared with (``ConfirmationEntry.comparison``):

* ``absolute``: the prediction is for the device that was measured -- a ``--profile`` calibrated for it
  was given, or the runner measures a real board (``command``, ``replay``);
* ``ranking``: the ``local`` runner measured this host but the prediction is for the study's target
  profile (e.g. the A32). The absolute error then says nothing about the model; what such a run checks is
  whether the model orders the candidates as the host does.

Candidates are exported with fresh weights: a dense path's latency does not depend on its weight values.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.export import ArtifactFormat, ExportError, ExportPart, export_paths
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementFailure, measure_all
from dslnas.search.records import STUDY_ATTR_CONFIRMATIONS, TrialRecord
from dslnas.spaces.candidate import CandidateConfig

if TYPE_CHECKING:
    from dslnas.search.pareto import FrontPoint

CONFIRMED_PATHS = ("full", "light")
KEPT_EXTRA_KEYS = ("runtime", "threads", "spread_reported", "device", "power_source", "measured_by")


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
        return _error_pct(self.measured_latency_ms, self.predicted_latency_ms)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "comparison": self.comparison.value, "error_pct": self.error_pct}

    @property
    def power_error_pct(self) -> float | None:
        return _error_pct(self.measured_power_mw, self.predicted_power_mw)


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


def _error_pct(measured: float | None, predicted: float | None) -> float | None:
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


@dataclass(frozen=True)
class ConfirmSettings:
    """How to confirm: where artifacts go, which format, what the device is called, which profile predicts.

    ``profile``: a device profile calibrated for the measured device; None keeps the trial's own prediction
    (made for the study's target profile).
    """

    work_dir: Path
    device: str | None = None
    profile: str | None = None
    fmt: ArtifactFormat = ArtifactFormat.ONNX


EntryCallback = Callable[[int, ConfirmationEntry], None]


def confirm_candidates(
    study: optuna.Study,
    points: Sequence["FrontPoint"],
    runner: DeviceRunner,
    settings: ConfirmSettings,
    on_entry: EntryCallback | None = None,
) -> dict[int, tuple[ConfirmationEntry, ...]]:
    """Export, measure and store each point's paths; returns the new entries by trial number."""
    model = ProfileCostModel(load_profile(settings.profile)) if settings.profile else None
    device = settings.device or default_device_name(runner)
    comparison = Comparison.ABSOLUTE if settings.profile or runner.name != "local" else Comparison.RANKING
    added: dict[int, tuple[ConfirmationEntry, ...]] = {}
    for point in points:
        predicted = _predicted(point.record, model, settings.profile, runner.name, device, comparison)
        entries = _measure_point(point, runner, settings, predicted)
        append_confirmations(study, point.number, entries)
        added[point.number] = entries
        for entry in entries:
            if on_entry is not None:
                on_entry(point.number, entry)
    return added


def _predicted(record: TrialRecord, model: ProfileCostModel | None, profile: str | None, runner: str,
               device: str, comparison: Comparison) -> dict[str, ConfirmationEntry]:
    """Per path, an entry holding only the prediction side (the measurement is filled in by :func:`_entry`)."""
    cost = record.cost
    if model is not None:
        cost = model.predict(CandidateConfig.model_validate(record.candidate), record.light_usage).to_json()
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {
        path: ConfirmationEntry(path, runner, device, now, comparison, profile or record.profile,
                                float(cost["latency_ms"][path]), float(cost["power_mw"][path]))
        for path in CONFIRMED_PATHS
    }


def _measure_point(point: "FrontPoint", runner: DeviceRunner, settings: ConfirmSettings,
                   predicted: dict[str, ConfirmationEntry]) -> tuple[ConfirmationEntry, ...]:
    candidate = CandidateConfig.model_validate(point.record.candidate)
    out_dir = settings.work_dir / f"trial-{point.number:05d}"
    try:
        artifacts = [export_paths(candidate, out_dir, (settings.fmt,), (ExportPart(p),))[0] for p in CONFIRMED_PATHS]
    except ExportError as err:
        return tuple(replace(predicted[p], failure=f"export: {err}") for p in CONFIRMED_PATHS)
    results = measure_all(runner, artifacts)
    return tuple(_entry(predicted[path], result) for path, result in zip(CONFIRMED_PATHS, results))


def _entry(predicted: ConfirmationEntry, result: Measurement | MeasurementFailure) -> ConfirmationEntry:
    if isinstance(result, MeasurementFailure):
        return replace(predicted, artifact=result.artifact, failure=result.reason)
    return replace(
        predicted,
        artifact=result.artifact,
        measured_latency_ms=result.latency_ms_median,
        measured_latency_ms_p10=result.latency_ms_p10,
        measured_latency_ms_p90=result.latency_ms_p90,
        repeats=result.repeats,
        measured_power_mw=result.power_mw,
        error_pct=_error_pct(result.latency_ms_median, predicted.predicted_latency_ms),
        power_error_pct=_error_pct(result.power_mw, predicted.predicted_power_mw),
        extra={k: result.extra[k] for k in KEPT_EXTRA_KEYS if k in result.extra},
    )


def default_device_name(runner: DeviceRunner) -> str:
    """What a run calls its device when the user names none: this host for ``local``, else the runner."""
    if runner.name == "local":
        return f"host {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)"
    if runner.name == "replay":
        return f"replay of {Path(getattr(runner, 'csv_path', '')).name}"
    return f"{runner.name} runner"
