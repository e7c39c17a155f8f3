"""CLI command ``export``: a scored point as the config that trains it again, or as the routed encoder (C, ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, StorageOpt, console, print_json, quiet_optuna
from dslnas.search.cli.point import CheckpointOpt, PointStudyOpt, PointTrialOpt, describe_point, point_from_options

ExportFormatName = Literal["yaml", "c", "onnx"]
RecipeName = Literal["scored", "from-scratch"]  # search.export.Recipe values (a test checks)


def export_command(
    study: PointStudyOpt = None,
    trial: PointTrialOpt = None,
    storage: StorageOpt = None,
    checkpoint: CheckpointOpt = None,
    fmt: Annotated[ExportFormatName, typer.Option("--format", help="yaml: a RunConfig for `dslnas train --config`; c: the routed streaming encoder as C99 (a folder); onnx: the same as three ONNX graphs with explicit state + routed.json, driven by dslnas.hw_models.routed_onnx.RoutedOnnxEncoder (a folder).")] = "yaml",
    recipe: Annotated[RecipeName, typer.Option("--recipe", help="yaml: scored = the trial's fine-tune from the study's base (reproduces the point); from-scratch = the candidate trained from nothing.")] = "scored",
    threshold: Annotated[Optional[float], typer.Option("--threshold", help="Routing threshold (yaml: within the trial's swept range; default: the point's recorded one).")] = None,
    out: Annotated[Path, typer.Option("--out", help="yaml: the RunConfig file to write; c / onnx: the folder to write.")] = Path("chosen.yaml"),
    json_out: JsonOpt = False,
) -> None:
    """Write a trial as a RunConfig YAML (candidate + the fine-tune that scored it + provenance) for `dslnas train
    --config`, or a point as the routed streaming encoder: portable C99 (`--format c`) or ONNX graphs with
    explicit state (`--format onnx`), routed at the point's threshold."""
    from dslnas.search.export import Recipe, export_run_config, write_run_config
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
    run = export_run_config(load_existing_study(storage, study), trial, threshold, recipe=Recipe(recipe))
    path = write_run_config(run, out)
    if json_out:
        print_json({"path": str(path), "run": run.model_dump(mode="json")})
    else:
        console.print(f"wrote {path} ({run.provenance['recipe']['note']}); train it with: dslnas train --config {path}",
                      highlight=False, markup=False, soft_wrap=True)


def _export_routed(fmt: str, study: str | None, trial: int | None, storage: str | None, checkpoint: str | None,
                   threshold: float | None, out: Path, json_out: bool) -> None:
    from dataclasses import asdict

    from dslnas.search.export import export_point_routed
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    if (checkpoint is None) == (study is None or trial is None):
        raise UserError(f"--format {fmt} exports --checkpoint CK, or a study's trial with --study and --trial")
    point = point_from_options(checkpoint, study, trial, storage, threshold)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; --format {fmt} writes a folder")
    check_writable_dir(out, "--out folder")
    describe_point(point)
    info = export_point_routed(point, fmt, out)
    if fmt == "c":
        from dslnas.hw_models.c_export.build_files import EXAMPLE_PROGRAM_NAME, EXAMPLE_SOURCE_NAME, MAKEFILE_NAME

        build = {"makefile": str(out / MAKEFILE_NAME), "example_source": str(out / EXAMPLE_SOURCE_NAME)}
    if json_out:
        extra = {"ram_bytes": info.ram_bytes, "flash_bytes": info.flash_bytes, **build} if fmt == "c" else {}
        print_json({**asdict(info), **extra, "point": point.to_json()})
    elif fmt == "c":
        console.print(f"wrote {info.source_path} and {info.header_path}: threshold {info.threshold:.4g}, "
                      f"{info.state_policy} state, RAM {info.ram_bytes:,} B (state {info.state_bytes:,} + scratch "
                      f"{info.scratch_bytes:,}), weights {info.weight_bytes:,} B; and {build['makefile']} with the example "
                      f"program {build['example_source']} (make -C {out} builds {EXAMPLE_PROGRAM_NAME}, which streams a WAV "
                      "through the routed encoder)", highlight=False, markup=False, soft_wrap=True)
    else:
        console.print(f"wrote front.onnx, full_tail.onnx, light_tail.onnx and routed.json in {info.out_dir}: threshold "
                      f"{info.threshold:.4g}, {info.state_policy} state; the driver (RoutedOnnxEncoder) matches the "
                      f"streaming runtime within {info.max_abs_diff:.2g}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
