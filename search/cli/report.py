"""CLI commands over a finished study: ``report`` (Pareto page), ``confirm`` (measure on a device), ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

import typer

from dslnas.hw_models.runners.artifact import ArtifactFormat
from dslnas.hw_models.runners.registry import RUNNERS
from dslnas.search.cli.common import JsonOpt, StorageOpt, StudyOpt, console, print_json, quiet_optuna

if TYPE_CHECKING:
    from dslnas.search.records import ConfirmationEntry

ExportFormatName = Literal["yaml", "c", "onnx"]


def report_command(
    study: StudyOpt,
    storage: StorageOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Report folder (default: runs/<study>/report).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write the Pareto report: index.html (self-contained), trials.csv, pareto.json and png/."""
    from dslnas.search.config import DEFAULT_RUNS_ROOT
    from dslnas.search.report.files import write_report
    from dslnas.search.storage import load_existing_study, study_dir

    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    quiet_optuna()
    folder = out or study_dir(study, Path(DEFAULT_RUNS_ROOT)) / "report"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file; give a folder for the report")
    check_writable_dir(folder, "report folder")
    loaded = load_existing_study(storage, study)
    try:
        files = write_report(loaded, folder)
    except OSError as err:
        raise UserError(f"report folder {folder} cannot be written ({err.strerror or type(err).__name__})") from err
    if json_out:
        print_json({"html": str(files.html), "csv": str(files.csv), "json": str(files.json), "pngs": [str(p) for p in files.pngs]})
    else:
        console.print(f"report: {files.html} (+ trials.csv, pareto.json, {len(files.pngs)} PNGs)")


def confirm_command(
    study: StudyOpt,
    storage: StorageOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many front candidates (recommended first).")] = 3,
    runner: Annotated[str, typer.Option("--runner", help=f"Device runner: {', '.join(sorted(RUNNERS))}.")] = "local",
    command: Annotated[Optional[str], typer.Option("--command", help="command runner: template, e.g. \"ssh board run {artifact}\".")] = None,
    loop_command: Annotated[Optional[str], typer.Option("--loop-command", help="command runner: back-to-back inference (power).")] = None,
    replay: Annotated[Optional[Path], typer.Option("--replay", help="replay runner: CSV of earlier measurements.")] = None,
    repeats: Annotated[Optional[int], typer.Option("--repeats", help="local runner: timed runs (>= 50).")] = None,
    warmup: Annotated[Optional[int], typer.Option("--warmup", help="local runner: untimed runs first.")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="local runner: inference threads.")] = None,
    timeout_s: Annotated[Optional[float], typer.Option("--timeout-s", help="Per-measurement timeout (s).")] = None,
    power_meter: Annotated[str, typer.Option("--power-meter", help="none, command or hwmon.")] = "none",
    power_command: Annotated[Optional[str], typer.Option("--power-command", help="command meter: prints mW.")] = None,
    hwmon: Annotated[Optional[Path], typer.Option("--hwmon", help="hwmon meter: /sys/class/hwmon/hwmonN folder.")] = None,
    power_window_s: Annotated[float, typer.Option("--power-window-s", help="Power protocol window (paper: 30 s).")] = 30.0,
    power_repeats: Annotated[int, typer.Option("--power-repeats", help="Power protocol idle/active pairs (paper: 10).")] = 10,
    profile: Annotated[Optional[str], typer.Option("--profile", help="Profile calibrated for the measured device (name or YAML); default: compare with the study's prediction.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="Name of the measured device in the study (default: from the runner).")] = None,
    fmt: Annotated[ArtifactFormat, typer.Option("--format", help="Artifact format to measure.")] = ArtifactFormat.ONNX,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="Where artifacts go (default: runs/<study>/confirm).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure the top-K front candidates' full and light paths on a device (and, on a runner that runs routed
    programs such as unicorn-arm, the routed mixed run over demo audio); store them beside the prediction."""
    from dslnas.hw_models.runners.registry import PowerOptions, RunnerOptions, build_runner
    from dslnas.search.config import DEFAULT_RUNS_ROOT
    from dslnas.search.confirm import ConfirmSettings, confirm_candidates
    from dslnas.search.pareto import compute_pareto_front
    from dslnas.search.storage import load_existing_study, study_dir
    from dslnas.spaces.errors import UserError

    quiet_optuna()
    options = RunnerOptions(threads=threads, warmup=warmup, repeats=repeats, timeout_s=timeout_s, command=command,
                            loop_command=loop_command, csv_path=None if replay is None else str(replay))
    power = PowerOptions(power_meter, power_command, None if hwmon is None else str(hwmon), power_window_s, power_repeats)
    device_runner = build_runner(runner, options, power)
    loaded = load_existing_study(storage, study)
    points = compute_pareto_front(loaded).pareto[:top_k]
    if not points:
        raise UserError(f"study {study!r} has no feasible completed trial to confirm")
    settings = ConfirmSettings(work_dir or study_dir(study, Path(DEFAULT_RUNS_ROOT)) / "confirm", device, profile, fmt)

    def show(number: int, entry: "ConfirmationEntry") -> None:
        if not json_out:
            console.print(_entry_line(number, entry), highlight=False, markup=False)

    added = confirm_candidates(loaded, points, device_runner, settings, on_entry=show)
    if json_out:
        print_json({"study": study, "confirmed": {str(n): [e.to_json() for e in es] for n, es in added.items()}})


def _entry_line(number: int, e: "ConfirmationEntry") -> str:
    head = f"trial {number} {e.path}: predicted {e.predicted_latency_ms:.3f} ms ({e.predicted_profile})"
    if not e.ok:
        return f"{head}, not measured: {e.failure}"
    error = f"{e.error_pct:+.1f} %" if e.error_pct is not None else "no error: prediction is 0"
    line = f"{head}, measured {e.measured_latency_ms:.3f} ms on {e.device} ({error}, compared: {e.comparison.value})"
    if e.path == "mixed" and "light_usage" in e.extra:  # the routed run: predicted at the measured light usage
        x = e.extra
        line += (f"; routed over {x['segments']} segments: mean, median {x['median_ms']:.3f} / p90 {x['p90_ms']:.3f} ms, "
                 f"light usage {x['light_usage']:.0%}, {x['switch_backs']} switch-backs, {x['weights']}")
    return line


def export_command(
    study: Annotated[Optional[str], typer.Option("--study", help="Study name (with --trial).")] = None,
    trial: Annotated[Optional[int], typer.Option("--trial", help="Trial number to export (a sweep point exports its threshold).")] = None,
    storage: StorageOpt = None,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="--format c|onnx: a trained checkpoint instead of a study's trial.")] = None,
    fmt: Annotated[ExportFormatName, typer.Option("--format", help="yaml: a RunConfig for `dslnas train --config`; c: the routed streaming encoder as C99 (a folder); onnx: the same as three ONNX graphs with explicit state + routed.json, driven by dslnas.hw_models.routed_onnx.RoutedOnnxEncoder (a folder).")] = "yaml",
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="Routing threshold (within the trial's swept range).")] = None,
    out: Annotated[Path, typer.Option("--out", help="yaml: the RunConfig file to write; c / onnx: the folder to write.")] = Path("chosen.yaml"),
    json_out: JsonOpt = False,
) -> None:
    """Write a trial as a RunConfig YAML (candidate + from-scratch recipe + provenance) for `dslnas train --config`,
    or as the routed streaming encoder: portable C99 (`--format c`) or ONNX graphs with explicit state (`--format onnx`)."""
    from dslnas.search.export import export_run_config, write_run_config
    from dslnas.search.storage import load_existing_study
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    quiet_optuna()
    if fmt in ("c", "onnx"):
        _export_routed(fmt, study, trial, storage, checkpoint, threshold, out, json_out)
        return
    if study is None or trial is None or checkpoint is not None:
        raise UserError("--format yaml exports a study's trial: give --study and --trial (not --checkpoint)")
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give the YAML file to write (e.g. {out / 'chosen.yaml'})")
    check_writable_dir(out.parent, "--out folder")
    run = export_run_config(load_existing_study(storage, study), trial, threshold)
    path = write_run_config(run, out)
    if json_out:
        print_json({"path": str(path), "run": run.model_dump(mode="json")})
    else:
        console.print(f"wrote {path}; train it with: dslnas train --config {path}")


def _export_routed(fmt: str, study: str | None, trial: int | None, storage: str | None, checkpoint: Path | None,
                   threshold: float | None, out: Path, json_out: bool) -> None:
    from dataclasses import asdict

    from dslnas.search import export_routed
    from dslnas.search.storage import load_existing_study
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    if (checkpoint is None) == (study is None or trial is None):
        raise UserError(f"--format {fmt} exports --checkpoint CK, or a study's trial with --study and --trial")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; --format {fmt} writes a folder")
    check_writable_dir(out, "--out folder")
    if checkpoint is not None:
        export = export_routed.export_checkpoint_c if fmt == "c" else export_routed.export_checkpoint_onnx
        info = export(checkpoint, out, threshold)
    else:
        assert study is not None and trial is not None
        export = export_routed.export_trial_c if fmt == "c" else export_routed.export_trial_onnx
        info = export(load_existing_study(storage, study), trial, out, threshold)
    if json_out:
        extra = {"ram_bytes": info.ram_bytes, "flash_bytes": info.flash_bytes} if fmt == "c" else {}
        print_json({**asdict(info), **extra})
    elif fmt == "c":
        console.print(f"wrote {info.source_path} and {info.header_path}: threshold {info.threshold:.4g}, "
                      f"{info.state_policy} state, RAM {info.ram_bytes:,} B (state {info.state_bytes:,} + scratch "
                      f"{info.scratch_bytes:,}), weights {info.weight_bytes:,} B", highlight=False, markup=False)
    else:
        console.print(f"wrote front.onnx, full_tail.onnx, light_tail.onnx and routed.json in {info.out_dir}: threshold "
                      f"{info.threshold:.4g}, {info.state_policy} state; the driver (RoutedOnnxEncoder) matches the "
                      f"streaming runtime within {info.max_abs_diff:.2g}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
    app.command("confirm")(confirm_command)
    app.command("export")(export_command)

