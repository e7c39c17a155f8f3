"""Cross-validated accuracy of the latency model on the x86 host (`local`), the emulated Cortex-A32 (`unicorn-arm`)
and the emulated Cortex-M33 + Cortex-A32 pair (`unicorn-pair`).

For each runner, runs the same calibration as `dslnas calibrate --runner NAME` (seeded suite, ONNX, 5-fold CV
by held-out candidate; local: 1 thread, fastest of 2 rounds; unicorn-arm: cycles from LLVM's scheduling model,
deterministic, so one round) and prints JSON side by side: the held-out MAPE and the share within +-5 % / +-10 %
(nn-Meter's figures) for the full/light passes, with and without the kernel terms (`latency_model.KERNEL_TERMS`,
refitted on the same measurements), without each ELU's measured share of negative inputs (every share set to
`counts.ASSUMED_NEGATIVE_SHARE`), on the emulated board also refitted on its instruction counts (CPI 1, what
it timed before cycles), per part, the in-sample fit and the wall time. Then, unless --no-presets,
the profile prices the `paper` and `demo` presets with the DSL at every switch depth (candidates outside the
suite) and those passes are measured too. The host is shared and noisy: its figures move by a few points
from run to run; the emulated board's do not.

`unicorn-pair` (not in the default list: ~10 min): the pair profile's runs (`hw_models.pair_suite`, `--pair-suite`:
`tiny`, 16 tiny candidates, or `demo`, 32 of the pair demo space's sizes; routed over 10 segments, ELU shares
measured on each run's audio) and, per core (M33: front and
light tail; A32: full tail) and for the link (encode + decode + doorbells against the values encoded and the bytes), the 5-fold CV by
candidate: MAPE and the share within +-5 % / +-10 %, on cycles (LLVM's models) and on instructions at CPI 1
(what the pair timed before) from the same runs; then the profile fitted on cycles predicts the held-out
candidates' parts per core and their mean latency per segment. `--pair-skip`: exports that skip the mask's
zeros (profile `a32-m33-pair-skip`); `--profile-out`: write the fitted pair profile.

Run: .venv/bin/python bench/cost_model_accuracy.py [--runners local,unicorn-arm] [--suite tiny] [--suite-size N]
     [--folds K] [--seed S] [--rounds R] [--repeats N] [--save-measurements CSV] [--profile-out PROFILE.yaml]
     [--no-presets] [--pair-suite tiny|demo] [--pair-skip]   (--save-measurements / --profile-out: of the last runner)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from dslnas.hw_models.calibrate import (
    DEFAULT_FOLDS, DEFAULT_ROUNDS, DEFAULT_SUITE_SIZE, CalibrationResult, CalibrationSettings, calibrated_profile,
    cross_validate, host_description, predict_ms, run_calibration, suite_counts, write_profile,
)
from dslnas.hw_models.calibration_suite import PASS_PARTS, CalibrationSample, SuiteKind, export_suite, measure_suite
from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.runners.artifact import ArtifactFormat
from dslnas.hw_models.latency_model import FitStats, fit_stats
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.hw_models.runners.base import DeviceRunner
from dslnas.hw_models.runners.emulated_arm import EmulatedArmRunner
from dslnas.hw_models.runners.local import LocalRunner
from dslnas.hw_models.runners.replay import write_replay_csv
from dslnas.search.cli.cost import move_switch
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.yaml_io import atomic_write_text


def _figures(stats: FitStats) -> dict[str, float]:
    return {"n": stats.n_samples, "mape_pct": round(stats.mape_pct, 2), "within_5pct_share": round(stats.within_5pct_share, 3),
            "within_10pct_share": round(stats.within_10pct_share, 3), "max_abs_error_pct": round(stats.max_abs_error_pct, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runners", default="local,unicorn-arm", help="comma-separated: local, unicorn-arm, unicorn-pair")
    parser.add_argument("--suite", default="standard", choices=[k.value for k in SuiteKind])
    parser.add_argument("--suite-size", type=int, default=DEFAULT_SUITE_SIZE)
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="local runner (the emulated board: 1)")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--save-measurements", default=None, help="also write the measurements as a replay CSV")
    parser.add_argument("--profile-out", default=None, help="also write the calibrated profile YAML")
    parser.add_argument("--no-presets", action="store_true", help="skip pricing and measuring the paper/demo presets")
    parser.add_argument("--pair-skip", action="store_true", help="unicorn-pair: exports that skip the mask's zeros")
    parser.add_argument("--pair-suite", default="tiny", choices=("tiny", "demo"),
                        help="unicorn-pair: the tiny suite or candidates of the pair demo space's sizes")
    args = parser.parse_args()
    report = {name: _bench_pair(args) if name == "unicorn-pair" else _bench_runner(name, args)
              for name in args.runners.split(",")}
    print(json.dumps(report, indent=2))


def _bench_runner(name: str, args: argparse.Namespace) -> dict:
    emulated = name == "unicorn-arm"
    runner = EmulatedArmRunner() if emulated else LocalRunner(threads=1, repeats=args.repeats)
    rounds = 1 if emulated else args.rounds
    settings = CalibrationSettings(suite_size=args.suite_size, folds=args.folds, seed=args.seed, rounds=rounds,
                                   ranges=SuiteKind(args.suite).ranges, kernel_terms=emulated)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dslnas-bench-") as tmp:
        result = run_calibration(runner, settings, tmp)
    wall_s = time.perf_counter() - started
    if args.save_measurements:
        write_replay_csv(result.measurements, args.save_measurements)
    if emulated:
        machine = runner.description
        profile = calibrated_profile(result, "a32-emulated", machine, name, load_profile("a32-paper"),
                                     clock_mhz=runner.clock_mhz, cpi=runner.cpi)
    else:
        runtime = next((m.extra["runtime"] for m in result.measurements if "runtime" in m.extra), "?")
        machine = f"{host_description()}; {runtime}, 1 thread"
        profile = calibrated_profile(result, "host-bench", machine, "local", load_profile("a32-paper"))
    if args.profile_out:
        write_profile(profile, args.profile_out)
    report = _report(result, machine, args, wall_s)
    other = cross_validate(list(result.samples), args.folds, args.seed, settings.groups, not settings.kernel_terms)
    report["cv_passes_" + ("without" if settings.kernel_terms else "with") + "_kernel_terms"] = _figures(other.headline)
    for label, samples in _variants(result, emulated, runner).items():
        report[label] = _figures(cross_validate(samples, args.folds, args.seed, settings.groups, settings.kernel_terms).headline)
    if not args.no_presets:
        report["presets_all_switch_depths"] = _figures(_preset_accuracy(profile, runner, rounds))
    return report


def _variants(result: CalibrationResult, emulated: bool, runner: DeviceRunner) -> dict[str, list[CalibrationSample]]:
    """The same measurements refitted without the ELU shares, and (emulated board) on instruction counts."""
    flat = [replace(s, layers=tuple(replace(x, negative_input_share=None) for x in s.layers)) for s in result.samples]
    variants = {"cv_passes_without_elu_shares": flat}
    if emulated:  # one sample per measurement, in the same order (calibration_suite.suite_samples)
        per_ms = 1.0 / (runner.clock_mhz * 1e3)
        variants["cv_passes_instructions_cpi1"] = [
            replace(s, latency_ms=float(np.median(m.extra["instructions_per_segment"])) * per_ms)
            for s, m in zip(result.samples, result.measurements)]
    return variants


def _preset_accuracy(profile: DeviceProfile, runner: DeviceRunner, rounds: int) -> FitStats:
    """Predicted vs measured full/light passes of `paper` and `demo` with the DSL after each block."""
    presets = [candidate_preset(name) for name in ("paper", "demo")]
    candidates = [move_switch(base, depth).model_copy(update={"name": f"{base.name}-d{depth}"})
                  for base in presets for depth in range(1, base.encoder.n_blocks + 1)]
    model = ProfileCostModel(profile)  # priced with each ELU's share on the measured audio, as the suite was
    with tempfile.TemporaryDirectory(prefix="dslnas-bench-presets-") as tmp:
        planned = export_suite(candidates, tmp, ArtifactFormat.ONNX, PASS_PARTS)
        measurements, _ = measure_suite(runner, planned, rounds)
    measured = {m.artifact: m.latency_ms_median for m in measurements}
    pairs = []
    for candidate in candidates:
        cost = model.predict_counts(suite_counts(candidate), 0.5)
        for part, predicted in (("full", cost.latency_ms.full), ("light", cost.latency_ms.light)):
            key = f"{candidate.name}-{part}:onnx"
            if key in measured:
                pairs.append((predicted, measured[key]))
    return fit_stats(np.array([p for p, _ in pairs]), np.array([m for _, m in pairs]))


def _bench_pair(args: argparse.Namespace) -> dict:
    """Per core and for the link: CV by candidate on cycles and on instructions (CPI 1); held-out candidates."""
    from dslnas.hw_models.pair_calibrate import Timing, fit_pair_profile, link_accuracy, unit_accuracy, unit_samples
    from dslnas.hw_models.pair_suite import PairSuite, held_out_runs, suite_runs
    from dslnas.hw_models.runners.pair import PairRunner

    runner, started, kind = PairRunner(), time.perf_counter(), PairSuite(args.pair_suite)
    with tempfile.TemporaryDirectory(prefix="dslnas-bench-pair-") as tmp:
        suite = suite_runs(Path(tmp), args.pair_skip, runner, kind)
        held_out = held_out_runs(Path(tmp), args.pair_skip, runner, kind)
    samples, s = [r.sample for r in suite], runner.stand_ins
    report: dict = {"machine": runner.description, "skip_zero_inputs": args.pair_skip, "suite": kind.value, "runs": len(suite),
                    "folds": args.folds, "wall_seconds": round(time.perf_counter() - started, 1)}
    for timing in Timing:
        label = "cycles" if timing is Timing.CYCLES else "instructions_cpi1"
        figures = {unit: {"cv_parts": _figures(cv.stats()), "cv_per_part": {k: _figures(v) for k, v in cv.per_part().items()},
                          "fit_in_sample": _figures(fit)}
                   for unit, (_, fit, cv) in unit_accuracy(samples, s, args.folds, timing).items()}
        report[label] = {**figures, "link_cv": _figures(link_accuracy(samples, s, args.folds, timing))}
    profile = fit_pair_profile(samples, s, args.folds, skips_zero_inputs=args.pair_skip, suite=kind.value)
    if args.profile_out:
        command = ("bench/cost_model_accuracy.py --runners unicorn-pair" + (" --pair-skip" if args.pair_skip else "")
                   + f" --pair-suite {kind.value}")
        atomic_write_text(Path(args.profile_out), f"# Written by `.venv/bin/python {command} --profile-out` "
                          f"(hw_models.pair_calibrate).\n" + yaml.safe_dump(
                              profile.model_dump(mode="json", exclude_none=True), sort_keys=False))
    held = unit_samples([r.sample for r in held_out], s)
    report["held_out_parts"] = {unit: _figures(fit_stats(predict_ms(rows, profile.units[unit].latency),
                                                         np.array([r.latency_ms for r in rows])))
                                for unit, rows in held.items()}
    stats, rows = _pair_mean_latency(profile, held_out)
    report["held_out_mean_latency"], report["held_out_runs"] = _figures(stats), rows
    return report


def _pair_mean_latency(profile: DeviceProfile, runs: list) -> tuple[FitStats, list[dict]]:
    """Each held-out run's mean latency per segment, priced under its measured routing, against the run; and per
    run the latency and energy errors."""
    from dslnas.search.confirm import measured_routing

    model = ProfileCostModel(profile)
    costs = [model.predict_counts(r.counts, measured_routing(r.run, r.encoder, r.sparsity)) for r in runs]
    rows = [{"candidate": r.encoder.candidate.name, "sparsity": round(r.sparsity, 3), "light_usage": round(r.run.light_usage, 2),
             "measured_ms": round(r.run.mean_ms, 3), "latency_error_pct": round(100 * (c.latency_ms.mixed / r.run.mean_ms - 1), 1),
             "energy_error_pct": round(100 * (c.energy_per_inference_uj.mixed / r.run.extra["energy_uj_per_segment_mean"] - 1), 1)}
            for r, c in zip(runs, costs)]
    return fit_stats(np.array([c.latency_ms.mixed for c in costs]), np.array([r.run.mean_ms for r in runs])), rows


def _report(result: CalibrationResult, machine: str, args: argparse.Namespace, wall_s: float) -> dict:
    return {
        "machine": machine,
        "suite_size": args.suite_size, "candidates_measured": result.n_candidates, "samples": len(result.samples),
        "folds": args.folds, "rounds": result.settings.rounds, "seed": args.seed, "suite": args.suite,
        "kernel_terms": result.settings.kernel_terms,
        "cv_passes": _figures(result.cv.headline),
        "cv_per_part": {part: _figures(s) for part, s in result.cv.per_part().items()},
        "fit_in_sample": _figures(result.fit),
        "failures": len(result.failures),
        "wall_seconds": round(wall_s, 1),
    }

if __name__ == "__main__":
    main()
