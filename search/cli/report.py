"""CLI command over a finished study: ``report`` (the Pareto page; ``confirm`` and ``export`` have their own modules)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dslnas.search.cli.common import JsonOpt, StorageOpt, console, print_json, quiet_optuna

MaxVisqolLossOpt = Annotated[Optional[float], typer.Option(
    "--max-visqol-loss", min=0.0, help="Quality tolerance of the picks: the most ViSQOL (MOS-LQO) a pick may lose against "
    "full-only, judged on the upper end of its 95% bootstrap interval over the scored clips. Default: measured on the "
    "study, the half-width of the 95% bootstrap interval of the full-only baseline's mean ViSQOL over its clips.")]


StudiesOpt = Annotated[list[str], typer.Option(
    "--study", help="Study name; repeat it to overlay several studies' fronts on the first one's report.")]


def report_command(
    study: StudiesOpt,
    storage: StorageOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Report folder (default: runs/<study>/report).")] = None,
    max_visqol_loss: MaxVisqolLossOpt = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Listening section: held-out clips as original, full path and routed output for the baseline, the knee and each budget pick (WAVs in listen/), and the knee's routing timelines.")] = True,
    clips_per_class: Annotated[int, typer.Option("--clips-per-class", min=1, max=10, help="--audio: held-out clips per class.")] = 2,
    json_out: JsonOpt = False,
) -> None:
    """Write the Pareto report: index.html (self-contained), trials.csv, pareto.json and png/ (of the first
    --study; further ones are overlaid on its front)."""
    from dslnas.search.config import DEFAULT_RUNS_ROOT
    from dslnas.search.report.files import write_report
    from dslnas.search.storage import load_existing_study, study_dir

    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    quiet_optuna()
    first, *others = study
    if len(set(study)) != len(study):
        raise UserError(f"--study names a study twice ({', '.join(study)})")
    folder = out or study_dir(first, Path(DEFAULT_RUNS_ROOT)) / "report"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file; give a folder for the report")
    check_writable_dir(folder, "report folder")
    loaded = load_existing_study(storage, first)
    compared = [load_existing_study(storage, name) for name in others]
    try:
        files = write_report(loaded, folder, max_visqol_loss, clips_per_class if audio else 0, compared)
    except OSError as err:
        raise UserError(f"report folder {folder} cannot be written ({err.strerror or type(err).__name__})") from err
    if json_out:
        print_json({"html": str(files.html), "csv": str(files.csv), "json": str(files.json), "pngs": [str(p) for p in files.pngs]})
    else:
        console.print(f"report: {files.html} (+ trials.csv, pareto.json, {len(files.pngs)} PNGs)")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)

