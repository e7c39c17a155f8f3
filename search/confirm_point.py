"""``confirm --checkpoint``: measure one named point (a shipped base ``pretrained:NAME``, or a checkpoint file)
on a device beside the cost model's prediction, without a study.

A base's DSL is inert (``search.point_source``), so only its **full path** is measured; a trained checkpoint's
full and light paths are. The prediction is the one price (``ProfileCostModel``) of ``--profile``, else the
point's study profile, else the search's default profile. Nothing is stored (there is no study to store in):
the entries are returned, and the CLI prints them (``--json``: as ``confirm`` does). The routed mixed run
needs a study's record (its routing and state policy) and is not made here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import Pass, RoutingSummary
from dslnas.hw_models.runners.artifact import ExportError, ExportPart
from dslnas.hw_models.runners.base import DeviceRunner, measure_all
from dslnas.hw_models.runners.convert import export_paths
from dslnas.search.confirm import CONFIRMED_PATHS, ConfirmSettings, _entry
from dslnas.search.config import DEFAULT_RUNS_ROOT, SearchConfig
from dslnas.search.point_source import PointSource
from dslnas.search.records import Comparison, ConfirmationEntry


def point_paths(point: PointSource) -> tuple[str, ...]:
    """The paths measured for ``point``: the full path of a base, full and light of a trained codec."""
    return (Pass.FULL.value,) if point.dsl_inert else CONFIRMED_PATHS


def point_profile(point: PointSource, profile: str | None) -> str:
    """The profile that predicts: ``profile``, else the point's study profile, else the search default."""
    return profile or point.profile or SearchConfig.model_fields["profile"].default


def default_work_dir(point: PointSource) -> Path:
    """``runs/confirm/<the point's label, as a folder name>`` (e.g. ``runs/confirm/pretrained-speech16k``)."""
    return Path(DEFAULT_RUNS_ROOT) / "confirm" / (re.sub(r"[^A-Za-z0-9._-]+", "-", point.label).strip("-") or "point")


def confirm_point(point: PointSource, runner: DeviceRunner, settings: ConfirmSettings) -> tuple[ConfirmationEntry, ...]:
    """Export ``point``'s paths (:func:`point_paths`) into ``settings.work_dir``, measure each with ``runner``
    and return one entry per path beside its prediction (a failed export or run: an entry with the reason)."""
    profile = point_profile(point, settings.profile)
    cost = ProfileCostModel(load_profile(profile)).predict(point.candidate, RoutingSummary(0.0))
    comparison = Comparison.ABSOLUTE if settings.profile or runner.is_target_device else Comparison.RANKING
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    device = settings.device or runner.description
    paths = point_paths(point)
    predicted = {
        path: ConfirmationEntry(path, runner.name, device, now, comparison, profile, cost.latency_ms.of(Pass(path)),
                                cost.power_mw.of(Pass(path)), predicted_energy_uj=cost.energy_per_inference_uj.of(Pass(path)))
        for path in paths
    }
    try:
        artifacts = [export_paths(point.candidate, settings.work_dir, (settings.fmt,), (ExportPart(p),))[0] for p in paths]
    except ExportError as err:
        return tuple(replace(predicted[p], failure=f"export: {err}") for p in paths)
    return tuple(_entry(predicted[path], result) for path, result in zip(paths, measure_all(runner, artifacts)))
