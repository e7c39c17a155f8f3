"""CLI command ``calibrate``: measure a suite of encoders on a runner, fit and cross-validate a device profile.

    dslnas calibrate --runner local --out runs/host.yaml                      # this host's CPU
    dslnas calibrate --runner command --command '["ssh", "board", "run", "{artifact}"]' --out board.yaml
    dslnas calibrate --runner replay --replay runs/host.csv --out host.yaml   # re-fit saved measurements
    dslnas calibrate --runner unicorn-arm --out a32-emulated.yaml             # the emulated Cortex-A32 (C export)

A replay must use the ``--suite-size``, ``--seed`` and ``--format`` of the run that saved the CSV
(``--save-measurements``): artifacts are looked up by name. The written profile prices candidates with
``dslnas cost --profile PROFILE.yaml``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from dslnas.hw_models.runners.artifact import ArtifactFormat
from dslnas.hw_models.runners.registry import RUNNERS
from dslnas.search.cli.common import JsonOpt, RunnerCommandOpt, RunnerRepeatsOpt, RunnerReplayOpt, RunnerThreadsOpt, RunnerTimeoutOpt, RunnerWarmupOpt, console, fail, print_json, progress_bar

if TYPE_CHECKING:
    from rich.table import Table

    from dslnas.hw_models.calibrate import CalibrationResult, CalibrationSettings
    from dslnas.hw_models.runners.base import DeviceRunner

DEFAULT_BASE_PROFILE = "a32-paper"
# Defaults of hw_models.calibrate (repeated here so that --help imports nothing heavy; a test checks they match).
DEFAULT_SUITE_SIZE, DEFAULT_FOLDS, DEFAULT_ROUNDS = 40, 5, 2
EMULATED = "unicorn-arm"  # the runner whose latency is modelled: cycles (LLVM scheduling model) / clock
SuiteName = Literal["standard", "tiny"]  # hw_models.calibration_suite.SuiteKind values (a test checks)


def calibrate_command(
    runner: Annotated[str, typer.Option("--runner", help=f"Where to measure: {', '.join(RUNNERS)} (local: this CPU; command: a board; replay: a CSV).")],
    out: Annotated[Path, typer.Option("--out", help="Profile YAML to write (load it with --profile PATH).")],
    suite_size: Annotated[int, typer.Option("--suite-size", help="Candidates in the calibration suite.")] = DEFAULT_SUITE_SIZE,
    suite: Annotated[SuiteName, typer.Option("--suite", help="Suite ranges: standard, or tiny encoders for a quick check of a runner.")] = "standard",
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (split by candidate).")] = DEFAULT_FOLDS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the suite and of the CV split.")] = 0,
    fmt: Annotated[ArtifactFormat, typer.Option("--format", help="Artifact format to measure.")] = ArtifactFormat.ONNX,
    rounds: Annotated[int, typer.Option("--rounds", help="Measure the suite this often; keep each artifact's fastest median.")] = DEFAULT_ROUNDS,
    threads: RunnerThreadsOpt = None,
    repeats: RunnerRepeatsOpt = None,
    warmup: RunnerWarmupOpt = None,
    command: RunnerCommandOpt = None,
    timeout_s: RunnerTimeoutOpt = None,
    replay: RunnerReplayOpt = None,
    save_measurements: Annotated[Optional[Path], typer.Option("--save-measurements", help="Write the measurements as a replay CSV.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Profile name (default: the --out file's stem).")] = None,
    base_profile: Annotated[str, typer.Option("--base-profile", help="Profile whose power coefficients are copied when no power is measured.")] = DEFAULT_BASE_PROFILE,
    device: Annotated[Optional[str], typer.Option("--device", help="Device description for the provenance (default: from the runner).")] = None,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="Keep the exported artifacts here (default: a temporary folder).")] = None,
    clock_mhz: Annotated[Optional[float], typer.Option("--clock-mhz", help="unicorn-arm: assumed core clock, latency = cycles / clock (default 1200).")] = None,
    cpi: Annotated[Optional[float], typer.Option("--cpi", help="unicorn-arm: time instructions x this CPI instead of the cycles of LLVM's scheduling model (default: cycles).")] = None,
    kernel_terms: Annotated[Optional[bool], typer.Option("--kernel-terms/--no-kernel-terms", help="Also fit the C conv kernel's loop terms (default: on for unicorn-arm, off otherwise).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure a seeded suite of encoders, fit the latency model, cross-validate it by held-out candidate, write a profile."""
    from dslnas.hw_models.calibrate import CalibrationSettings, calibrated_profile, write_profile
    from dslnas.hw_models.calibration_suite import SuiteKind
    from dslnas.hw_models.profile import load_profile
    from dslnas.hw_models.runners.registry import RunnerOptions
    from dslnas.hw_models.runners.replay import write_replay_csv
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    try:
        settings = CalibrationSettings(suite_size=suite_size, folds=folds, seed=seed, fmt=fmt, rounds=rounds,
                                       ranges=SuiteKind(suite).ranges,
                                       kernel_terms=runner == EMULATED if kernel_terms is None else kernel_terms)
        settings.check()
        if out.suffix.lower() not in (".yaml", ".yml") or out.is_dir():
            raise UserError(f"--out must be a .yaml file, got {out}")
        check_writable_dir(out.parent, "--out folder")  # before the measurements, not after them
        options = RunnerOptions(threads=threads, repeats=repeats, warmup=warmup, timeout_s=timeout_s, command=command,
                                csv_path=None if replay is None else str(replay))
        device_runner = _build(runner, options, clock_mhz, cpi)
        base = load_profile(base_profile)
        result = _run(device_runner, settings, work_dir)
    except UserError as err:
        fail(str(err))
    for failure in result.failures:
        console.print(f"[yellow]skipped[/] {failure.artifact}: {failure.reason}", highlight=False)
    if save_measurements is not None:
        write_replay_csv(result.measurements, save_measurements)
    profile = calibrated_profile(result, name or out.stem, device or _describe(device_runner, result), runner, base,
                                 clock_mhz=getattr(device_runner, "clock_mhz", None), cpi=getattr(device_runner, "cpi", None),
                                 suite=f"{suite} ranges, {suite_size} candidates, seed {seed}")
    write_profile(profile, out)
    if json_out:
        print_json({"profile": str(out), "name": profile.name, "device": profile.provenance.device, "runner": runner,
                    "measurements_csv": None if save_measurements is None else str(save_measurements), **result.to_json()})
    else:
        console.print(_accuracy_table(result))
        console.print(f"wrote {out} ({result.n_candidates} candidates, {len(result.samples)} samples, {result.seconds:.0f} s)")


def _build(name: str, options: Any, clock_mhz: float | None, cpi: float | None) -> "DeviceRunner":
    """``build_runner``, plus the emulated core's clock / CPI assumptions (flags only that runner takes)."""
    from dslnas.hw_models.runners.registry import build_runner, get_runner
    from dslnas.spaces.errors import UserError

    runner = build_runner(name, options)
    proxy = {k: v for k, v in (("clock_mhz", clock_mhz), ("cpi", cpi)) if v is not None}
    if not proxy:
        return runner
    if name != EMULATED:
        raise UserError(f"--clock-mhz / --cpi apply to the {EMULATED} runner only, not {name}")
    return get_runner(name, **options.given(), **proxy)


def _run(runner: "DeviceRunner", settings: "CalibrationSettings", work_dir: Path | None) -> "CalibrationResult":
    from dslnas.hw_models.calibrate import run_calibration

    with progress_bar() as bar, tempfile.TemporaryDirectory(prefix="dslnas-calibrate-") as tmp:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int, status: str) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, status="")
            bar.update(tasks[stage], completed=done, status=status)

        return run_calibration(runner, settings, str(work_dir or tmp), on_progress)


def _describe(runner: "DeviceRunner", result: "CalibrationResult") -> str:
    """The device for the profile's provenance: the runner's own description, plus the runtime it reported."""
    extra = next((m.extra for m in result.measurements if "runtime" in m.extra), {})
    return runner.description + (f"; {extra['runtime']}" if "runtime" in extra else "")


def _accuracy_table(result: "CalibrationResult") -> "Table":
    from rich.table import Table

    from dslnas.hw_models.calibration_suite import PASS_PARTS
    from dslnas.hw_models.latency_model import FitStats

    cv = result.cv
    table = Table(title=f"{cv.folds}-fold CV by held-out candidate ({result.n_candidates} candidates)")
    for column in ("predictions", "n", "MAPE %", "within 5 %", "within 10 %", "worst %"):
        table.add_column(column, justify="left" if column == "predictions" else "right")
    per_part = cv.per_part()
    rows: list[tuple[str, FitStats]] = [("held-out passes", cv.headline)]
    if set(per_part) - {p.value for p in PASS_PARTS}:
        rows.append(("held-out, all parts", cv.stats()))
    rows += [(f"  held-out {part}", stats) for part, stats in per_part.items()]
    rows.append(("final fit, in-sample", result.fit))
    for label, s in rows:
        table.add_row(label, str(s.n_samples), f"{s.mape_pct:.1f}", f"{s.within_5pct_share:.0%}",
                      f"{s.within_10pct_share:.0%}", f"{s.max_abs_error_pct:.1f}")
    return table


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_command)
