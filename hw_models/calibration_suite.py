"""The calibration suite: varied, valid encoder candidates to measure, and what each measured part runs.

A latency model is only as good as the spread of the models it was fitted on (nn-Meter's lesson: sample
the configurations the predictor will be asked about, and vary each feature on its own). The suite draws
SoundStream-style encoders from :class:`SuiteRanges`, seeded: block count and strides, stem and block
widths, residual kernel and dilations, embedding width, routing segment length, switch depth, light-path
widths and switch head width. Every draw is a valid :class:`CandidateConfig`; duplicates are redrawn.

Each candidate is exported as parts (:class:`~dslnas.hw_models.runners.convert.ExportPart`); :data:`PART_PATHS`
says which counted paths (``op_count.PATHS``) one inference of each part runs, so a measured part is one
fitting sample (:class:`CalibrationSample`). :func:`measure_suite` measures the suite ``rounds`` times,
round after round, and keeps each artifact's fastest median: on a shared host, contention from other
processes only ever adds time, so the least disturbed round is the closest to the device's own latency.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

import torch

from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat, ExportPart
from dslnas.hw_models.runners.convert import export_paths
from dslnas.hw_models.counts import FRONT_PARTS, EncoderCounts, LayerCount, Part
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementFailure, MeasureResult, measure_all
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.errors import UserError

# Which counted paths one inference of each exported part runs (the export's MaskedSwitch is mask + switch).
PART_PATHS: dict[ExportPart, tuple[Part, ...]] = {
    ExportPart.BASE: (Part.BASE,),
    ExportPart.SWITCH: (Part.MASK, Part.SWITCH),
    ExportPart.FULL_TAIL: (Part.FULL_TAIL,),
    ExportPart.LIGHT_TAIL: (Part.LIGHT_TAIL,),
    ExportPart.FULL: (*FRONT_PARTS, Part.FULL_TAIL),
    ExportPart.LIGHT: (*FRONT_PARTS, Part.LIGHT_TAIL),
}
PASS_PARTS = (ExportPart.FULL, ExportPart.LIGHT)  # what the cost model predicts for a candidate
MAX_REDRAWS = 50


@dataclass(frozen=True)
class SuiteRanges:
    """The choices a suite draws from (each draw picks uniformly among the entries).

    ``stride_sets``: block strides (one entry per block, so this also sets the block count);
    ``width_growth``: a block's output width is its input width times one of these (clipped to
    ``[min_width, max_width]``); ``light_widths``: choices for each light-tail entry.
    """

    stride_sets: tuple[tuple[int, ...], ...] = ((2, 4, 5, 8), (2, 4, 8), (4, 5, 8), (2, 2, 4, 8), (8, 8))
    stem_channels: tuple[int, ...] = (2, 4, 8)
    width_growth: tuple[float, ...] = (1.0, 1.5, 2.0, 3.0)
    min_width: int = 4
    max_width: int = 96
    residual_kernels: tuple[int, ...] = (3, 5, 7)
    residual_dilations: tuple[tuple[int, ...], ...] = ((1,), (1, 3), (1, 3, 9))
    embedding_dims: tuple[int, ...] = (16, 32, 64)
    final_kernels: tuple[int, ...] = (1, 3)
    segment_frames: tuple[int, ...] = (5, 10, 20)
    light_widths: tuple[int, ...] = (2, 4, 8, 12, 16)
    switch_hidden: tuple[int, ...] = (4, 8, 16)


TINY_RANGES = SuiteRanges(  # quick to export and run: for tests and smoke runs
    stride_sets=((2, 2), (2, 4), (2, 2, 2)), stem_channels=(2, 4), width_growth=(1.0, 2.0), max_width=16,
    residual_kernels=(3, 5), residual_dilations=((1,), (1, 3)), embedding_dims=(4, 8), final_kernels=(1, 3),
    segment_frames=(2, 4), light_widths=(2, 4), switch_hidden=(2, 4),
)


class SuiteKind(str, Enum):
    """Named suite ranges: ``standard`` (the default) and ``tiny`` (a quick check of a runner's setup)."""

    STANDARD = "standard"
    TINY = "tiny"

    @property
    def ranges(self) -> SuiteRanges:
        return SuiteRanges() if self is SuiteKind.STANDARD else TINY_RANGES


def calibration_suite(size: int, seed: int = 0, ranges: SuiteRanges = SuiteRanges()) -> list[CandidateConfig]:
    """``size`` distinct candidates named ``cal-s<seed>-<i>``; the same ``(size, seed, ranges)`` gives the same suite."""
    if size < 1:
        raise UserError(f"the calibration suite needs at least 1 candidate, got {size}")
    rng = random.Random(seed)
    suite: list[CandidateConfig] = []
    seen: set[str] = set()
    while len(suite) < size:
        candidate = _distinct_draw(rng, ranges, seen, f"cal-s{seed}-{len(suite):03d}")
        seen.add(_fingerprint(candidate))
        suite.append(candidate)
    return suite


def _distinct_draw(rng: random.Random, ranges: SuiteRanges, seen: set[str], name: str) -> CandidateConfig:
    for _ in range(MAX_REDRAWS):
        candidate = draw_candidate(rng, ranges, name)
        if _fingerprint(candidate) not in seen:
            return candidate
    raise UserError(f"the suite ranges allow too few distinct candidates for a suite of {len(seen) + 1}")


def _fingerprint(candidate: CandidateConfig) -> str:
    return candidate.model_copy(update={"name": ""}).model_dump_json()


def draw_candidate(rng: random.Random, ranges: SuiteRanges, name: str) -> CandidateConfig:
    """One random valid candidate from ``ranges``."""
    strides = rng.choice(ranges.stride_sets)
    stem = rng.choice(ranges.stem_channels)
    widths = _block_widths(rng, ranges, stem, len(strides))
    arch = EncoderArch(
        stem_channels=stem, block_channels=widths, block_strides=strides,
        residual_kernel=rng.choice(ranges.residual_kernels), residual_dilations=rng.choice(ranges.residual_dilations),
        embedding_dim=rng.choice(ranges.embedding_dims), final_kernel=rng.choice(ranges.final_kernels),
    )
    depth = rng.randint(1, len(strides))
    full_widths = (arch.channels_after(depth), *widths[depth:])  # a light path is never wider than the full one
    dsl = DSLConfig(
        switch_depth=depth,
        light_widths=tuple(min(rng.choice(ranges.light_widths), full) for full in full_widths),
        switch_hidden=rng.choice(ranges.switch_hidden), segment_frames=rng.choice(ranges.segment_frames),
    )
    return CandidateConfig(name=name, encoder=arch, dsl=dsl)


def _block_widths(rng: random.Random, ranges: SuiteRanges, stem: int, n_blocks: int) -> tuple[int, ...]:
    widths, width = [], stem
    for _ in range(n_blocks):
        width = min(max(round(width * rng.choice(ranges.width_growth)), ranges.min_width), ranges.max_width)
        widths.append(width)
    return tuple(widths)


def part_layers(counts: EncoderCounts, part: ExportPart) -> tuple[LayerCount, ...]:
    """The layers one inference of ``part`` runs (its paths' layer lists, concatenated)."""
    return tuple(layer for path in PART_PATHS[part] for layer in counts.paths[path].layers)


@dataclass(frozen=True)
class SuiteArtifact:
    """One artifact of the suite: which candidate and part it is (``artifact.key`` names it to runners)."""

    candidate: str
    part: ExportPart
    artifact: Artifact


def export_suite(
    suite: Sequence[CandidateConfig], out_dir: str | Path, fmt: ArtifactFormat, parts: Sequence[ExportPart],
    on_exported: Callable[[CandidateConfig], None] | None = None,
) -> list[SuiteArtifact]:
    """Export ``parts`` of every candidate in ``fmt`` under ``out_dir/<candidate>/`` (checked, see ``export``).

    Fresh weights seeded by :func:`candidate_seed`: the emulated board's counts then repeat exactly
    (the ELU's ``exp`` runs only for negative inputs, so weights change the instructions executed)."""
    exported = []
    for candidate in suite:
        torch.manual_seed(candidate_seed(candidate))  # same weights every run: a data-dependent kernel (ELU) repeats
        artifacts = export_paths(candidate, Path(out_dir) / candidate.name, formats=(fmt,), parts=tuple(parts))
        exported += [SuiteArtifact(candidate.name, part, a) for part, a in zip(parts, artifacts)]
        if on_exported is not None:
            on_exported(candidate)
    return exported


def candidate_seed(candidate: CandidateConfig) -> int:
    """A seed for the candidate's fresh weights, fixed by its name (``zlib.crc32``, stable across processes)."""
    return zlib.crc32(candidate.name.encode())


def planned_suite_artifacts(
    suite: Sequence[CandidateConfig], fmt: ArtifactFormat, parts: Sequence[ExportPart],
) -> list[SuiteArtifact]:
    """The artifacts :func:`export_suite` would write, without writing them (for a replay, which needs keys only)."""
    planned = []
    for candidate in suite:
        shapes = _part_shapes(candidate)
        for part in parts:
            name = f"{candidate.name}-{part.value}"
            artifact = Artifact(name, Path(f"{name}{fmt.suffix}"), fmt, shapes[part])
            planned.append(SuiteArtifact(candidate.name, part, artifact))
    return planned


def _part_shapes(candidate: CandidateConfig) -> dict[ExportPart, tuple[int, ...]]:
    arch, dsl = candidate.encoder, candidate.dsl
    audio = (1, 1, candidate.segment_samples)
    base_hop = 1
    for stride in arch.block_strides[: dsl.switch_depth]:
        base_hop *= stride
    features = (1, arch.channels_after(dsl.switch_depth), candidate.segment_samples // base_hop)
    return {part: audio if part in (ExportPart.FULL, ExportPart.LIGHT, ExportPart.BASE) else features
            for part in ExportPart}


def measure_suite(
    runner: DeviceRunner, planned: Sequence[SuiteArtifact], rounds: int = 1,
    on_result: Callable[[MeasureResult], None] | None = None,
) -> tuple[list[Measurement], list[MeasurementFailure]]:
    """Measure every artifact ``rounds`` times (round after round) and keep its fastest median.

    The kept measurement lists every round's median in ``extra["round_medians_ms"]``. An artifact that
    failed in every round is one :class:`MeasurementFailure` (its first reason); one that failed in some
    rounds only is kept. Raises UserError for ``rounds < 1``.
    """
    if rounds < 1:
        raise UserError(f"measurement rounds must be at least 1, got {rounds}")
    artifacts = [item.artifact for item in planned]
    results = [r for _ in range(rounds) for r in measure_all(runner, artifacts, on_result)]
    measurements, failures = [], []
    for artifact in artifacts:
        mine = [r for r in results if r.artifact == artifact.key]
        ok = [r for r in mine if isinstance(r, Measurement)]
        if not ok:
            failures.append(mine[0])
            continue
        best = min(ok, key=lambda m: m.latency_ms_median)
        measurements.append(replace(best, extra={**best.extra, "round_medians_ms": [m.latency_ms_median for m in ok]}))
    return measurements, failures


@dataclass(frozen=True)
class CalibrationSample:
    """One measured part of one suite candidate: its layers (one inference) and the median latency (ms)."""

    candidate: str
    part: str
    layers: tuple[LayerCount, ...]
    latency_ms: float
    power_mw: float | None = None


def suite_samples(
    planned: Sequence[SuiteArtifact], counts: Mapping[str, EncoderCounts], measurements: Sequence[Measurement],
) -> list[CalibrationSample]:
    """One sample per measurement: the measured part's layers and its median latency."""
    by_key = {item.artifact.key: item for item in planned}
    samples = []
    for m in measurements:
        item = by_key[m.artifact]
        layers = part_layers(counts[item.candidate], item.part)
        samples.append(CalibrationSample(item.candidate, item.part.value, layers, m.latency_ms_median, m.power_mw))
    return samples
