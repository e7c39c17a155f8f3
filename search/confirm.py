"""On-device confirmation: measure chosen candidates' paths and store the result beside the prediction.

Each confirmed candidate is exported path by path (``full`` and ``light``, ``hw_models.runners.convert``),
each artifact is measured with a device runner, and one ``ConfirmationEntry`` per path is appended to the
trial's list (``search.records.confirmations``): running it again adds runs (repeats), never overwrites. A path whose export or
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import optuna

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.runners.artifact import ArtifactFormat, ExportError, ExportPart
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementFailure, measure_all
from dslnas.hw_models.runners.convert import export_paths
from dslnas.search.records import (
    Comparison, ConfirmationEntry, TrialRecord, append_confirmations, error_pct,
)

if TYPE_CHECKING:
    from dslnas.search.pareto import FrontPoint

CONFIRMED_PATHS = ("full", "light")
KEPT_EXTRA_KEYS = ("runtime", "threads", "spread_reported", "device", "power_source", "measured_by")


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
    device = settings.device or runner.description
    comparison = Comparison.ABSOLUTE if settings.profile or runner.is_target_device else Comparison.RANKING
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
    cost = record.cost if model is None else model.predict(record.candidate, record.light_usage).summary()
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    latency = {"full": cost.latency_ms.full, "light": cost.latency_ms.light}
    power = {"full": cost.power_mw.full, "light": cost.power_mw.light}
    return {
        path: ConfirmationEntry(path, runner, device, now, comparison, profile or record.profile, latency[path], power[path])
        for path in CONFIRMED_PATHS
    }


def _measure_point(point: "FrontPoint", runner: DeviceRunner, settings: ConfirmSettings,
                   predicted: dict[str, ConfirmationEntry]) -> tuple[ConfirmationEntry, ...]:
    candidate = point.record.candidate
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
        error_pct=error_pct(result.latency_ms_median, predicted.predicted_latency_ms),
        power_error_pct=error_pct(result.power_mw, predicted.predicted_power_mw),
        extra={k: result.extra[k] for k in KEPT_EXTRA_KEYS if k in result.extra},
    )
