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

Each path is exported from the trial's trained codec (fresh weights seeded 0 when its checkpoint is missing), the
codec the routed run below measures: an ELU's cost depends on the signs of its inputs, so weights drawn anew per
part made the emulated timings wander from run to run.

**The routed mixed run** (path ``mixed``, for a :class:`~dslnas.hw_models.runners.routed.RoutedRunner`:
``local`` times the C export built with the host gcc, ``unicorn-arm`` counts it on the emulated core):
the trial's trained codec (``record.checkpoint``; fresh weights when the file is missing, said in the entry)
is exported whole with ``export_c`` at the trial's threshold and state policy, and streamed with automatic
routing over a few seconds of generated demo audio (speech and silence clips, ``trainers.data.demo_audio``) or,
with ``ConfirmSettings.audio`` ``study`` (``--audio study``), over the study's own held-out clips
(``search.confirm_audio``). The entry's ``measured_latency_ms`` is the MEAN latency per segment as routed (warm replays
included), since the prediction it is compared with -- the cost model's mixed figures under the MEASURED
routing (``RoutedRun.routing``: its light usage, the trial's mask sparsity, the replays the streaming
runtime counts on the measured route pattern) -- is a usage-weighted mean; its predicted energy is the mixed
pass's. p10 / p90 are over segments, and ``extra`` holds the median, the measured routing and where the
weights came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from dslnas.hw_models.cost import Cost, ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import Pass, RoutingSummary
from dslnas.hw_models.runners.artifact import ArtifactFormat, ExportError, ExportPart
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementFailure, measure_all
from dslnas.hw_models.runners.convert import export_paths
from dslnas.hw_models.runners.routed import RoutedRunner
from dslnas.search.confirm_audio import MIXED_CLIP_SECONDS, MIXED_CLIPS, ConfirmAudio, demo_audio, study_audio, whole_segments
from dslnas.search.confirm_parts import part_checks
from dslnas.search.records import (
    Comparison, ConfirmationEntry, TrialRecord, append_confirmations, error_pct,
)
from dslnas.spaces.errors import UserError

if TYPE_CHECKING:
    from dslnas.hw_models.runners.routed import RoutedRun
    from dslnas.search.pareto import FrontPoint
    from dslnas.trainers.codec import DSLCodec
    from dslnas.trainers.encoder import DSLEncoder

CONFIRMED_PATHS = (Pass.FULL.value, Pass.LIGHT.value)
MIXED_PATH = Pass.MIXED.value  # the routed run; only for a RoutedRunner (confirmed_paths)
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
    mixed_clips: int = MIXED_CLIPS
    mixed_clip_seconds: float = MIXED_CLIP_SECONDS
    audio: ConfirmAudio = ConfirmAudio.DEMO  # what the routed run streams (search.confirm_audio)


def confirmed_paths(runner: DeviceRunner) -> tuple[str, ...]:
    """The paths a confirm run measures on ``runner``: full and light, plus ``mixed`` for a routed runner."""
    return CONFIRMED_PATHS + ((MIXED_PATH,) if isinstance(runner, RoutedRunner) else ())


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
        checkpoint = _checkpoint(study, point.number)
        entries = _measure_point(point, runner, settings, predicted, checkpoint)
        if isinstance(runner, RoutedRunner):
            mixed_model = model or ProfileCostModel(load_profile(point.record.profile))
            entries += (_measure_mixed(point, runner, settings, predicted[Pass.FULL.value], mixed_model, checkpoint,
                                       study),)
        append_confirmations(study, point.number, entries)
        added[point.number] = entries
        for entry in entries:
            if on_entry is not None:
                on_entry(point.number, entry)
    return added


def _predicted(record: TrialRecord, model: ProfileCostModel | None, profile: str | None, runner: str,
               device: str, comparison: Comparison) -> dict[str, ConfirmationEntry]:
    """Per path, an entry holding only the prediction side (the measurement is filled in by :func:`_entry`)."""
    routing = record.cost.routing or RoutingSummary(record.light_usage, record.sparsity)  # records before routings were kept
    cost = record.cost if model is None else model.predict(record.candidate, routing)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return {
        path: ConfirmationEntry(path, runner, device, now, comparison, profile or record.profile, cost.latency_ms.of(Pass(path)),
                                cost.power_mw.of(Pass(path)), predicted_energy_uj=cost.energy_per_inference_uj.of(Pass(path)))
        for path in CONFIRMED_PATHS
    }


def _measure_point(point: "FrontPoint", runner: DeviceRunner, settings: ConfirmSettings,
                   predicted: dict[str, ConfirmationEntry], checkpoint: Path | None) -> tuple[ConfirmationEntry, ...]:
    """Each path exported from the one codec the routed run measures (the trial's weights, else seeded fresh
    ones): an ELU's cost depends on its inputs' signs, so unseeded weights per part made the timings wander."""
    out_dir = settings.work_dir / f"trial-{point.number:05d}"
    try:  # an unreadable checkpoint fails these entries, as it fails the routed one
        codec, _ = _trained_codec(point.record, checkpoint)
        artifacts = export_paths(codec, out_dir, (settings.fmt,), tuple(ExportPart(p) for p in CONFIRMED_PATHS))
    except (ExportError, OSError) as err:
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
        measured_energy_uj=result.energy_per_inference_uj,
        energy_error_pct=error_pct(result.energy_per_inference_uj, predicted.predicted_energy_uj),
        error_pct=error_pct(result.latency_ms_median, predicted.predicted_latency_ms),
        extra={k: result.extra[k] for k in KEPT_EXTRA_KEYS if k in result.extra},
    )


def _checkpoint(study: optuna.Study, number: int) -> Path | None:
    """The trial's checkpoint from this host or the study's artifact store; None when neither has it."""
    from dslnas.search.artifacts import checkpoint_of
    from dslnas.spaces.errors import UserError

    try:
        return checkpoint_of(study, number)
    except UserError:
        return None


def _measure_mixed(point: "FrontPoint", runner: RoutedRunner, settings: ConfirmSettings, template: ConfirmationEntry,
                   model: ProfileCostModel, checkpoint: Path | None = None, study: optuna.Study | None = None
                   ) -> ConfirmationEntry:
    """The trial's routed encoder streamed over ``settings.audio`` (the study's held-out clips need ``study``) on
    ``runner``, predicted under the measured routing."""
    from dslnas.hw_models.c_export import CExportError, export_c

    record = point.record
    dsl = record.candidate.dsl
    base = replace(template, path=MIXED_PATH, artifact=f"{record.candidate.name}-routed:c", predicted_latency_ms=0.0,
                   predicted_power_mw=0.0, predicted_energy_uj=None)
    try:
        codec, weights = _trained_codec(record, checkpoint)
        info = export_c(codec, record.candidate, settings.work_dir / f"trial-{point.number:05d}" / "routed",
                        dsl.threshold, state_policy=dsl.state_policy,  # the C the profile prices (zero skips or not)
                        skip_zero_inputs=model.profile.unit().skips_zero_inputs)
        audio = (study_audio(study, record.candidate) if settings.audio is ConfirmAudio.STUDY and study is not None
                 else demo_audio(record.candidate.encoder.sample_rate_hz, settings.mixed_clips, settings.mixed_clip_seconds))
        run = runner.run_routed(info, whole_segments(audio, record.candidate.segment_samples))
    except (CExportError, ExportError, OSError, UserError) as err:  # UserError: the study's clips cannot be loaded
        return replace(base, failure=f"routed run: {err}")
    measured = measured_routing(run, codec.encoder, record.sparsity)  # each ELU priced at the trial's measured share
    routing = replace(measured, elu_negative_shares=record.cost.routing.elu_negative_shares) if record.cost.routing else measured
    cost = model.predict(record.candidate, routing)
    return replace(
        base, predicted_profile=model.name, predicted_latency_ms=cost.latency_ms.mixed, predicted_power_mw=cost.power_mw.mixed,
        predicted_energy_uj=cost.energy_per_inference_uj.mixed,
        measured_latency_ms=run.mean_ms, measured_latency_ms_p10=run.percentile_ms(10),
        measured_latency_ms_p90=run.percentile_ms(90), repeats=len(run.paths),
        error_pct=error_pct(run.mean_ms, cost.latency_ms.mixed), **_measured_energy(run, cost),
        extra={**_mixed_extra(run, routing, cost, record, weights), "audio": audio.source},
    )


def _measured_energy(run: "RoutedRun", cost: Cost) -> dict[str, float]:
    """Energy per segment where the runner reports it (``unicorn-pair``: stand-in power x measured busy time),
    compared with the mixed pass's prediction."""
    measured = run.extra.get("energy_uj_per_segment_mean")
    if measured is None:
        return {}
    return {"measured_energy_uj": float(measured),
            "energy_error_pct": error_pct(float(measured), cost.energy_per_inference_uj.mixed)}


def measured_routing(run: "RoutedRun", encoder: "DSLEncoder", mask_sparsity: float) -> RoutingSummary:
    """What the routed run did, as priced: its routes and, under ``warm``, the replays the streaming runtime
    counts on them (each tail's receptive field, capped by the frames seen); the trial's mask sparsity."""
    from dslnas.spaces.candidate import StatePolicy
    from dslnas.trainers.streaming import StreamingEncoder

    candidate = encoder.candidate
    warm = StatePolicy(candidate.dsl.state_policy) is StatePolicy.WARM
    segment_s = candidate.segment_samples / candidate.encoder.sample_rate_hz
    return run.routing(segment_s, mask_sparsity, StreamingEncoder(encoder).warmup_frames if warm else None,
                       encoder.base_frames_per_segment)


def _mixed_extra(run: "RoutedRun", routing: RoutingSummary, cost: Cost, record: TrialRecord, weights: str) -> dict[str, Any]:
    """What a mixed entry keeps beside its figures: the measured routing, how it was priced, the weights."""
    dsl = record.candidate.dsl
    return {"measured": "mean latency per segment as routed", "median_ms": run.percentile_ms(50),
            "p90_ms": run.percentile_ms(90), "light_usage": run.light_usage, "switch_backs": run.switch_backs,
            "segments": len(run.paths),
            "audio_s": len(run.paths) * record.candidate.segment_samples / record.candidate.encoder.sample_rate_hz,
            "threshold": dsl.threshold, "state_policy": str(getattr(dsl.state_policy, "value", dsl.state_policy)),
            "weights": weights, "trial_light_usage": record.light_usage, "routing": routing.to_json(),
            "replays_per_inference": {t.value: v for t, v in cost.replays_per_inference.items()},
            "predicted_placement": cost.placement,
            "predicted_link_bytes_per_segment": cost.link_bytes_per_s / cost.inferences_per_s,
            "predicted_wakeups_per_segment": cost.wakeups_per_s / cost.inferences_per_s,
            **{k: v for k, v in run.extra.items() if k != "instructions"},
            "parts": [c.to_json() for c in part_checks(cost, run.extra)]}


def _trained_codec(record: TrialRecord, checkpoint: Path | None = None) -> tuple["DSLCodec", str]:
    """The trial's codec with its checkpoint's weights, or fresh (seeded) weights when the file is missing."""
    import torch

    from dslnas.trainers.checkpoint import load_checkpoint
    from dslnas.trainers.codec import build_codec

    path = checkpoint or (Path(record.checkpoint) if record.checkpoint else None)
    if path is not None and path.is_file():
        codec = build_codec(record.candidate)
        codec.load_state_dict(load_checkpoint(path).model)
        return codec.eval(), f"checkpoint {path}"
    torch.manual_seed(0)
    return build_codec(record.candidate).eval(), f"fresh weights (seed 0): checkpoint {record.checkpoint or '(none)'} is missing"
