"""Calibrate a device profile: measure a suite of candidates, fit the latency model, cross-validate it.

    calibration_suite -> export parts -> measure (fastest of ``rounds``) -> one sample per measured part
    -> fit per-op-group coefficients on all samples + k-fold CV on held-out CANDIDATES -> DeviceProfile

CV splits by candidate (no candidate's parts on both sides of a fold) and reports nn-Meter's figures:
mean absolute percentage error and the share of predictions within +-5 % and +-10 %. Choices, each
measured on a shared 2-core x86 host (onnxruntime, 1 thread; ``bench/cost_model_accuracy.py``):

* **Samples = the full and light passes** (``PASS_PARTS``): base + mask + switch + one tail, exactly what
  the cost model prices. Each artifact run also pays a per-inference overhead (~6 us here) the latency
  model has no term for; on passes it lands in the ops every pass runs once (the DSL head). Adding the
  pieces (base, switch, 10-50 us tails, one overhead each) dropped held-out passes within +-10 % to ~50 %.
* **Relative error** is minimised (rows divided by their measurement), as the figures weigh samples:
  79-85 % of held-out passes within +-10 % with plain least squares, 89-93 % with this.
* **Op groups** (:data:`OP_GROUPS`) share coefficients within one kernel kind, so op types the suite never
  ran are still priced when a group covers them (held-out figures moved under 2 points either way).
* **Fastest of 2 rounds** per artifact: run-to-run noise of one median here is ~4 % (89 % of re-measures
  within +-10 % of the first), and contention only ever adds time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import nnls

from dslnas.hw_models.calibration_suite import (
    PASS_PARTS, CalibrationSample, SuiteRanges, calibration_suite, candidate_seed, export_suite, measure_suite,
    planned_suite_artifacts, suite_samples,
)
from dslnas.hw_models.counts import EncoderCounts
from dslnas.spaces.candidate import CandidateConfig
from dslnas.hw_models.runners.artifact import ArtifactFormat, ExportPart
from dslnas.hw_models.latency_model import (
    KERNEL_TERMS, TERMS, FitStats, fit_stats, kernel_term_counts, latency_ms, layer_features,
)
from dslnas.hw_models.op_count import LayerCount, count_candidate
from dslnas.hw_models.calibrated_profile import (  # noqa: F401  re-exported: the calibrate command and benches read them here
    calibrated_profile, fit_power, host_description, write_profile,
)
from dslnas.hw_models.profile import OpLatency
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementFailure, MeasureResult
from dslnas.hw_models.runners.replay import ReplayRunner
from dslnas.spaces.errors import UserError

DEFAULT_SUITE_SIZE = 40
DEFAULT_FOLDS = 5
DEFAULT_ROUNDS = 2
# op type -> fitted group: one cheap instruction per element; exp-based activations; reductions; data movement.
OP_GROUPS: dict[str, str] = {
    "conv": "conv", "conv_transpose": "conv", "linear": "linear", "matmul": "linear",
    **dict.fromkeys(("add", "sub", "mul", "div", "abs", "sign", "relu", "neg", "clamp", "maximum", "minimum"), "eltwise"),
    **dict.fromkeys(("elu", "softplus", "sigmoid", "tanh", "silu", "gelu"), "exp_act"),
    **dict.fromkeys(("mean", "sum", "amax", "amin", "max", "min"), "reduce"),
    **dict.fromkeys(("pad", "cat", "stack", "copy", "contiguous"), "movement"),
}
_TERM_TO_MS = np.array([1e-6, 1e-6, 1e-6, 1e-3])  # coefficient unit * feature -> ms (latency_model's units)

ProgressFn = Callable[[str, int, int, str], None]  # (stage, done, total, status)


def fit_latency(
    samples: Sequence[CalibrationSample], groups: Mapping[str, str] = OP_GROUPS, kernel_terms: bool = False,
) -> tuple[dict[str, OpLatency], FitStats]:
    """Non-negative per-op-type coefficients minimising the RELATIVE error over ``samples``; in-sample stats.

    Op types are fitted per group (an op type ``groups`` does not list is its own group); every listed
    member of a fitted group gets the group's coefficients. ``kernel_terms``: also fit the C conv kernel's
    :data:`~dslnas.hw_models.latency_model.KERNEL_TERMS` (their ``ns_per_op``). Same model and units as
    :func:`~dslnas.hw_models.latency_model.fit_latency_coefficients`, which minimises absolute error.
    """
    if not samples:
        raise UserError("no calibration samples to fit (every measurement failed?)")
    names = sorted({groups.get(layer.op_type, layer.op_type) for s in samples for layer in s.layers})
    extra = KERNEL_TERMS if kernel_terms else ()
    design = np.stack([np.concatenate([_design_row(s.layers, names, groups), _kernel_row(s.layers, extra)])
                       for s in samples])
    measured = np.array([s.latency_ms for s in samples])
    relative = design / measured[:, None]  # every row's target becomes 1
    scale = np.linalg.norm(relative, axis=0)
    scale[scale == 0] = 1.0
    solution, _ = nnls(relative / scale, np.ones(len(samples)), maxiter=50 * design.shape[1])
    solution = solution / scale
    values = solution[: len(names) * len(TERMS)].reshape(len(names), len(TERMS))
    by_group = {g: OpLatency(**dict(zip(TERMS, map(float, row)))) for g, row in zip(names, values)}
    members = {op: g for op, g in groups.items() if g in by_group}
    members.update({layer.op_type: groups.get(layer.op_type, layer.op_type) for s in samples for layer in s.layers})
    coefficients = {op: by_group[g] for op, g in sorted(members.items())}
    for key, value in zip(extra, solution[len(names) * len(TERMS):]):
        coefficients[key] = OpLatency(ns_per_op=float(value))
    return coefficients, fit_stats(predict_ms(samples, coefficients), measured)


def _kernel_row(layers: Sequence[LayerCount], keys: Sequence[str]) -> np.ndarray:
    if not keys:
        return np.zeros(0)
    counts = kernel_term_counts(layers)
    return np.array([counts[key] * 1e-6 for key in keys])  # ns per count -> ms


def _design_row(layers: Sequence[LayerCount], names: list[str], groups: Mapping[str, str]) -> np.ndarray:
    row = np.zeros((len(names), len(TERMS)))
    index = {g: i for i, g in enumerate(names)}
    for layer in layers:
        row[index[groups.get(layer.op_type, layer.op_type)]] += layer_features(layer) * _TERM_TO_MS
    return row.ravel()


def predict_ms(samples: Sequence[CalibrationSample], coefficients: Mapping[str, OpLatency]) -> np.ndarray:
    """Predicted latency (ms) of each sample's layers under ``coefficients``."""
    return np.array([latency_ms(s.layers, coefficients) for s in samples])


def candidate_folds(candidates: Sequence[str], folds: int, seed: int = 0) -> list[tuple[str, ...]]:
    """Split the distinct candidate names into ``folds`` disjoint, near-equal groups (seeded shuffle)."""
    names = sorted(set(candidates))
    if not 2 <= folds <= len(names):
        raise UserError(f"cross-validation needs 2 <= folds <= measured candidates ({len(names)}), got {folds} folds")
    random.Random(seed).shuffle(names)
    return [tuple(sorted(names[i::folds])) for i in range(folds)]


@dataclass(frozen=True)
class HeldOutPrediction:
    """One sample predicted by coefficients fitted without its candidate (fold ``fold``)."""

    candidate: str
    part: str
    fold: int
    measured_ms: float
    predicted_ms: float


@dataclass(frozen=True)
class CrossValidation:
    """k-fold cross-validation by candidate; ``headline``: the held-out passes (all parts without passes)."""

    folds: int
    predictions: tuple[HeldOutPrediction, ...]

    def stats(self, parts: Sequence[str] | None = None) -> FitStats:
        """Accuracy over the held-out predictions of ``parts`` (every part when None)."""
        chosen = [p for p in self.predictions if parts is None or p.part in parts]
        return fit_stats(np.array([p.predicted_ms for p in chosen]), np.array([p.measured_ms for p in chosen]))

    @property
    def headline(self) -> FitStats:
        passes = [p.value for p in PASS_PARTS if any(h.part == p.value for h in self.predictions)]
        return self.stats(passes or None)

    def per_part(self) -> dict[str, FitStats]:
        return {part: self.stats([part]) for part in sorted({p.part for p in self.predictions})}

    def to_json(self) -> dict[str, Any]:
        return {"folds": self.folds, "headline": vars(self.headline), "all_parts": vars(self.stats()),
                "per_part": {part: vars(s) for part, s in self.per_part().items()}}


def cross_validate(
    samples: Sequence[CalibrationSample], folds: int, seed: int = 0, groups: Mapping[str, str] = OP_GROUPS,
    kernel_terms: bool = False,
) -> CrossValidation:
    """For each fold: fit on the other folds' candidates, predict this fold's samples."""
    predictions: list[HeldOutPrediction] = []
    for index, held_out in enumerate(candidate_folds([s.candidate for s in samples], folds, seed)):
        train = [s for s in samples if s.candidate not in held_out]
        coefficients, _ = fit_latency(train, groups, kernel_terms=True) if kernel_terms else fit_latency(train, groups)
        test = [s for s in samples if s.candidate in held_out]
        predictions += [HeldOutPrediction(s.candidate, s.part, index, s.latency_ms, float(p))
                        for s, p in zip(test, predict_ms(test, coefficients))]
    return CrossValidation(folds, tuple(predictions))


@dataclass(frozen=True)
class CalibrationSettings:
    """What to measure and how to fit it. ``rounds``: measure the suite that often, keep each fastest median."""

    suite_size: int = DEFAULT_SUITE_SIZE
    folds: int = DEFAULT_FOLDS
    seed: int = 0
    fmt: ArtifactFormat = ArtifactFormat.ONNX
    parts: tuple[ExportPart, ...] = PASS_PARTS
    rounds: int = DEFAULT_ROUNDS
    ranges: SuiteRanges = SuiteRanges()
    groups: Mapping[str, str] = field(default_factory=lambda: dict(OP_GROUPS))
    kernel_terms: bool = False  # also fit the C conv kernel's loop terms (latency_model.KERNEL_TERMS)

    def check(self) -> None:
        """A UserError naming the first bad setting."""
        if self.suite_size < 1:
            raise UserError(f"--suite-size must be at least 1, got {self.suite_size}")
        if self.folds < 2:
            raise UserError(f"--folds must be at least 2, got {self.folds}")
        if self.suite_size < self.folds:
            raise UserError(f"--suite-size ({self.suite_size}) must be at least --folds ({self.folds}): CV holds out candidates")
        if self.rounds < 1 or not self.parts:
            raise UserError(f"need at least one measurement round and one part, got rounds={self.rounds}, parts={self.parts}")


@dataclass(frozen=True)
class CalibrationResult:
    """A finished calibration: the final fit on every sample, its CV, and what was measured or skipped."""

    settings: CalibrationSettings
    latency: dict[str, OpLatency]
    fit: FitStats
    cv: CrossValidation
    samples: tuple[CalibrationSample, ...]
    measurements: tuple[Measurement, ...]
    failures: tuple[MeasurementFailure, ...]
    seconds: float

    @property
    def n_candidates(self) -> int:
        return len({s.candidate for s in self.samples})

    def to_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "suite_size": s.suite_size, "seed": s.seed, "format": s.fmt.value, "parts": [p.value for p in s.parts],
            "rounds": s.rounds, "kernel_terms": s.kernel_terms, "candidates_measured": self.n_candidates, "n_samples": len(self.samples),
            "cv": self.cv.to_json(), "fit": vars(self.fit), "seconds": round(self.seconds, 1),
            "failures": [{"artifact": f.artifact, "reason": f.reason} for f in self.failures],
            "latency": {op: c.model_dump() for op, c in self.latency.items()},
        }


def run_calibration(
    runner: DeviceRunner, settings: CalibrationSettings, work_dir: str | Path, progress: ProgressFn | None = None,
) -> CalibrationResult:
    """Generate the suite, export it under ``work_dir`` (not for a replay), measure, fit and cross-validate."""
    settings.check()
    start = time.perf_counter()
    report = progress or (lambda stage, done, total, status: None)
    suite = calibration_suite(settings.suite_size, settings.seed, settings.ranges)
    counts = {}
    for i, candidate in enumerate(suite):
        counts[candidate.name] = suite_counts(candidate)
        report("count", i + 1, len(suite), candidate.name)
    if isinstance(runner, ReplayRunner):  # replays look artifacts up by key: nothing to write
        planned = planned_suite_artifacts(suite, settings.fmt, settings.parts)
    else:
        done = iter(range(1, len(suite) + 1))
        planned = export_suite(suite, work_dir, settings.fmt, settings.parts,
                               lambda c: report("export", next(done), len(suite), c.name))
    measured = iter(range(1, len(planned) * settings.rounds + 1))
    on_result: Callable[[MeasureResult], None] = lambda r: report(
        "measure", next(measured), len(planned) * settings.rounds, _status(r))
    measurements, failures = measure_suite(runner, planned, settings.rounds, on_result)
    samples = suite_samples(planned, counts, measurements)
    _check_enough(samples, failures, settings)
    latency, fit = fit_latency(samples, settings.groups, settings.kernel_terms)
    cv = cross_validate(samples, settings.folds, settings.seed, settings.groups, settings.kernel_terms)
    return CalibrationResult(settings, latency, fit, cv, tuple(samples), tuple(measurements), tuple(failures),
                             time.perf_counter() - start)


def suite_counts(candidate: CandidateConfig) -> EncoderCounts:
    """A suite candidate counted, its ELU layers carrying their share of negative inputs on the audio the
    emulated board streams, with the weights ``export_suite`` seeds (``elu_stats``)."""
    from dslnas.hw_models.elu_stats import suite_negative_shares, with_negative_shares

    return with_negative_shares(count_candidate(candidate), suite_negative_shares(candidate, candidate_seed(candidate)))


def _status(result: MeasureResult) -> str:
    if isinstance(result, Measurement):
        return f"{result.artifact} {result.latency_ms_median:.3f} ms"
    return f"{result.artifact} FAILED"


def _check_enough(samples: Sequence[CalibrationSample], failures: Sequence[MeasurementFailure],
                  settings: CalibrationSettings) -> None:
    measured = len({s.candidate for s in samples})
    if measured >= settings.folds:
        return
    first = f"; first failure: {failures[0].artifact}: {failures[0].reason}" if failures else ""
    raise UserError(f"only {measured} of {settings.suite_size} suite candidates were measured, "
                    f"fewer than --folds ({settings.folds}){first}")
