"""CLI command ``calibrate``: measure a suite of encoders on a runner, fit and cross-validate a device profile.

    dslnas calibrate --runner local --out runs/host.yaml                      # this host's CPU
    dslnas calibrate --runner command --command '["ssh", "board", "run", "{artifact}"]' --out board.yaml
    dslnas calibrate --runner replay --replay runs/host.csv --out host.yaml   # re-fit saved measurements

A replay must use the ``--suite-size``, ``--seed`` and ``--format`` of the run that saved the CSV
(``--save-measurements``): artifacts are looked up by name. The written profile prices candidates with
``dslnas cost --profile PROFILE.yaml``.
"""

from __future__ import annotations

import inspect
import json
import shlex
import tempfile
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from dslnas.hw_models.calibrate import (
    DEFAULT_FOLDS, DEFAULT_ROUNDS, DEFAULT_SUITE_SIZE, CalibrationResult, CalibrationSettings, calibrated_profile,
    host_description, run_calibration, write_profile,
)
from dslnas.hw_models.calibration_suite import PASS_PARTS, SuiteKind
from dslnas.hw_models.export import ArtifactFormat
from dslnas.hw_models.latency_model import FitStats
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.runners.base import DeviceRunner
from dslnas.hw_models.runners.registry import RUNNERS, get_runner, runner_options
from dslnas.hw_models.runners.replay import write_replay_csv
from dslnas.search.cli_common import console, fail, print_json
from dslnas.search.cli_model import progress_bar
from dslnas.spaces.errors import UserError, unknown_name

DEFAULT_BASE_PROFILE = "a32-paper"
# runner constructor option -> the flag that sets it
RUNNER_FLAGS = {"threads": "--threads", "repeats": "--repeats", "warmup": "--warmup", "command": "--command",
                "csv_path": "--replay", "timeout_s": "--timeout-s"}


def parse_command(text: str) -> list[str]:
    """``--command``: a JSON list of arguments, or a string split like a shell would (no shell runs it)."""
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise UserError(f"--command looks like JSON but does not parse: {err}") from None
        if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
            raise UserError("--command as JSON must be a list of strings")
        return value
    try:
        return shlex.split(text)
    except ValueError as err:
        raise UserError(f"--command cannot be split into arguments: {err}") from None


def build_runner(name: str, options: dict[str, Any]) -> DeviceRunner:
    """The runner ``name`` with the options given on the command line; a flag it does not take is an error."""
    if name not in RUNNERS:
        raise unknown_name("runner", name, list(RUNNERS))
    valid = runner_options(name)
    for key in options:
        if key not in valid:
            takes = ", ".join(RUNNER_FLAGS[k] for k in valid if k in RUNNER_FLAGS) or "no options"
            raise UserError(f"{RUNNER_FLAGS[key]} does not apply to the {name} runner (it takes: {takes})")
    params = inspect.signature(RUNNERS[name]).parameters.values()
    for param in params:
        if param.default is inspect.Parameter.empty and param.name not in options:
            raise UserError(f"the {name} runner needs {RUNNER_FLAGS.get(param.name, param.name)}")
    return get_runner(name, **options)


def calibrate_command(
    runner: Annotated[str, typer.Option("--runner", help="Where to measure: local (this CPU), command (a board), replay (a CSV).")],
    out: Annotated[Path, typer.Option("--out", help="Profile YAML to write (load it with --profile PATH).")],
    suite_size: Annotated[int, typer.Option("--suite-size", help="Candidates in the calibration suite.")] = DEFAULT_SUITE_SIZE,
    suite: Annotated[SuiteKind, typer.Option("--suite", help="Suite ranges: standard, or tiny encoders for a quick check of a runner.")] = SuiteKind.STANDARD,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds (split by candidate).")] = DEFAULT_FOLDS,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the suite and of the CV split.")] = 0,
    fmt: Annotated[ArtifactFormat, typer.Option("--format", help="Artifact format to measure.")] = ArtifactFormat.ONNX,
    rounds: Annotated[int, typer.Option("--rounds", help="Measure the suite this often; keep each artifact's fastest median.")] = DEFAULT_ROUNDS,
    threads: Annotated[Optional[int], typer.Option("--threads", help="local: inference threads (default 1).")] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", help="local: timed runs per artifact (>= 50, default 100).")] = None,
    warmup: Annotated[Optional[int], typer.Option("--warmup", help="local: untimed runs first (default 10).")] = None,
    command: Annotated[Optional[str], typer.Option("--command", help="command: JSON list or shell-style string with {artifact}, {name}, {format}, {input_shape}.")] = None,
    timeout_s: Annotated[Optional[float], typer.Option("--timeout-s", help="local/command: seconds per measurement.")] = None,
    replay: Annotated[Optional[Path], typer.Option("--replay", help="replay: CSV saved by --save-measurements.")] = None,
    save_measurements: Annotated[Optional[Path], typer.Option("--save-measurements", help="Write the measurements as a replay CSV.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Profile name (default: the --out file's stem).")] = None,
    base_profile: Annotated[str, typer.Option("--base-profile", help="Profile whose power coefficients are copied when no power is measured.")] = DEFAULT_BASE_PROFILE,
    device: Annotated[Optional[str], typer.Option("--device", help="Device description for the provenance (default: from the runner).")] = None,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="Keep the exported artifacts here (default: a temporary folder).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Measure a seeded suite of encoders, fit the latency model, cross-validate it by held-out candidate, write a profile."""
    try:
        settings = CalibrationSettings(suite_size=suite_size, folds=folds, seed=seed, fmt=fmt, rounds=rounds, ranges=suite.ranges)
        settings.check()
        if out.suffix.lower() not in (".yaml", ".yml"):
            raise UserError(f"--out must be a .yaml file, got {out}")
        options = {"threads": threads, "repeats": repeats, "warmup": warmup, "timeout_s": timeout_s,
                   "command": None if command is None else parse_command(command), "csv_path": replay}
        device_runner = build_runner(runner, {k: v for k, v in options.items() if v is not None})
        base = load_profile(base_profile)
        result = _run(device_runner, settings, work_dir)
    except UserError as err:
        fail(str(err))
    for failure in result.failures:
        console.print(f"[yellow]skipped[/] {failure.artifact}: {failure.reason}", highlight=False)
    if save_measurements is not None:
        write_replay_csv(result.measurements, save_measurements)
    profile = calibrated_profile(result, name or out.stem, device or _describe(device_runner, result), runner, base)
    write_profile(profile, out)
    if json_out:
        print_json({"profile": str(out), "name": profile.name, "device": profile.provenance.device, "runner": runner,
                    "measurements_csv": None if save_measurements is None else str(save_measurements), **result.to_json()})
    else:
        console.print(_accuracy_table(result))
        console.print(f"wrote {out} ({result.n_candidates} candidates, {len(result.samples)} samples, {result.seconds:.0f} s)")


def _run(runner: DeviceRunner, settings: CalibrationSettings, work_dir: Path | None) -> CalibrationResult:
    with progress_bar() as bar, tempfile.TemporaryDirectory(prefix="dslnas-calibrate-") as tmp:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int, status: str) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total, status="")
            bar.update(tasks[stage], completed=done, status=status)

        return run_calibration(runner, settings, str(work_dir or tmp), on_progress)


def _describe(runner: DeviceRunner, result: CalibrationResult) -> str:
    if runner.name == "replay":
        return f"measurements replayed from {getattr(runner, 'csv_path', '?')}"
    if runner.name != "local":
        return f"{runner.name} runner: {' '.join(getattr(runner, 'command', []))}"
    extra = next((m.extra for m in result.measurements if "runtime" in m.extra), {})
    return f"{host_description()}; {extra.get('runtime', 'local runtime')}, {extra.get('threads', '?')} thread(s)"


def _accuracy_table(result: CalibrationResult) -> Table:
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
