"""CLI command ``evaluate``: one point (a shipped base, a checkpoint or a study's trial) on the streaming runtime.

Phases, each with progress and an ETA on stderr: **check data** (clip lengths, sample rates and labels from
the files' headers, offending files named, before any compute; ``trainers.data.check``), **load** (the
short-clip rule and the evaluation cut), **stream** (each clip through the encoder once) and **visqol**
(every run asked for, scored).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dslnas.search.cli.common import JsonOpt, StorageOpt, console, eta_text, print_json, progress_bar
from dslnas.search.cli.point import CheckpointOpt, PointStudyOpt, PointTrialOpt, ThresholdOpt, describe_point
from dslnas.search.config import DEFAULT_PROFILE

if TYPE_CHECKING:
    from rich.table import Table

    from dslnas.search.point_source import PointSource
    from dslnas.spaces.run_config import DataConfig
    from dslnas.trainers.data import Clip
    from dslnas.trainers.data.check import DataCheck
    from dslnas.trainers.data.clips import ShortClips
    from dslnas.trainers.evaluate import EvaluationResult

PHASES = {"check": "check data", "load": "load clips", "stream": "stream", "visqol": "visqol"}


class PhaseProgress:
    """``progress(phase, done, total)`` on a progress display: one task per phase, its ETA in the status (so
    plain log lines carry it too)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.tasks: dict[str, tuple[int, float]] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = (self.bar.add_task(PHASES.get(phase, phase), total=total, status=""), time.monotonic())
        task, started = self.tasks[phase]
        self.bar.update(task, completed=done, total=total, status=eta_text(time.monotonic() - started, done, total))


def evaluate_command(
    checkpoint: CheckpointOpt = None,
    study: PointStudyOpt = None,
    trial: PointTrialOpt = None,
    storage: StorageOpt = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Folder of wav/flac (labelled sub-folders: speech/, silence/), a manifest or AudioSet CSV. Default: the point's held-out data.")] = None,
    eval_clip_seconds: Annotated[Optional[float], typer.Option("--eval-clip-seconds", min=0.0, help="Score each clip's first N s (>= 1; 0: whole clips). Default: the point's evaluation setting (the space's).")] = None,
    threshold: ThresholdOpt = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help=f"Device profile pricing the sweep (name or YAML); default: the study's, else {DEFAULT_PROFILE}.")] = None,
    oracle: Annotated[bool, typer.Option("--oracle/--no-oracle", help="Also sweep the oracle router (the bound routing can reach; costs ViSQOL time).")] = True,
    json_out: JsonOpt = False,
) -> None:
    """On the streaming runtime: full / light / mixed ViSQOL, light usage, switch-backs, switch rank correlation,
    a threshold sweep priced on --profile and the oracle's bound, per class and overall. A shipped base
    (pretrained:NAME) is scored on its full path only."""
    from dslnas.trainers.evaluate import evaluate_codec

    point = point_from_cli(checkpoint, study, trial, storage, threshold)
    describe_point(point)
    cfg = point.data_for(data, eval_clip_seconds)
    with progress_bar() as bar:
        progress = PhaseProgress(bar)
        clips, check, short = evaluation_clips(point, cfg, data is not None, progress)
        codec = point.codec()
        result = evaluate_codec(codec, clips, point.threshold, progress=progress, oracle=oracle,
                                full_only=point.dsl_inert)
    if json_out:
        from dslnas.search.evaluation_summary import evaluation_summary

        from dslnas.hw_models.elu_stats import clip_negative_shares

        summary = evaluation_summary(result, point.candidate, profile or point.profile or DEFAULT_PROFILE,
                                     clip_negative_shares(codec.encoder, [c.audio for c in clips]))
        print_json({**summary, "point": point.to_json(), "data": {**check.to_json(), **_short_json(short, cfg)}})
    else:
        console.print(evaluation_table(result, point))


def point_from_cli(checkpoint: str | None, study: str | None, trial: int | None, storage: str | None,
                   threshold: float | None) -> "PointSource":
    from dslnas.search.cli.point import point_from_options

    return point_from_options(checkpoint, study, trial, storage, threshold)


def evaluation_clips(point: "PointSource", cfg: "DataConfig", every_clip: bool, progress: PhaseProgress
                     ) -> tuple[list["Clip"], "DataCheck", "ShortClips"]:
    """The clips to score, after checking them (printed before any compute) and applying the short-clip rule
    and the evaluation cut; ``every_clip``: all of them (a ``--data`` folder), else the held-out side."""
    from dslnas.spaces.errors import DataError
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.data.check import check_clips
    from dslnas.trainers.data.clips import evaluation_set, visqol_min_samples

    rate = point.candidate.encoder.sample_rate_hz
    progress("check", 0, 1)
    indexed = load_dataset(cfg, rate, min_samples=1)  # headers only; nothing padded
    minimum = max(visqol_min_samples(rate), point.candidate.segment_samples)
    check = check_clips(cfg.path or f"{cfg.kind.value} data", indexed, rate, minimum)
    progress("check", 1, 1)
    for line in check.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    progress("load", 0, 1)
    chosen = evaluation_set(indexed, cfg, rate, all_when_none_held_out=every_clip, min_samples=minimum)
    progress("load", 1, 1)
    if chosen.short.joined or chosen.short.skipped:
        console.print(chosen.short.describe(rate), highlight=False, markup=False, soft_wrap=True)
    if not chosen.clips:
        raise DataError(f"{check.source}: no clip to evaluate (" + (
            f"all {len(chosen.short.skipped)} shorter than {check.min_seconds:.2f} s and too few to join)"
            if chosen.short.skipped else "eval_fraction is 0: give --data)"))
    return list(chosen.clips), check, chosen.short


def _short_json(short: "ShortClips", cfg: "DataConfig") -> dict[str, Any]:
    return {"joined": list(short.joined), "skipped": list(short.skipped), "evaluated_clips": len(short.clips),
            "eval_clip_seconds": cfg.eval_clip_seconds}


def evaluation_table(result: "EvaluationResult", point: "PointSource | None" = None) -> "Table":
    from rich.table import Table

    inert = point is not None and point.dsl_inert
    title = "full path of the base (DSL inert)" if inert else f"evaluation at threshold {result.threshold:g}"
    table = Table(title=title)
    for col in ("group", "clips", "ViSQOL full", "light", "mixed", "light usage", "sparsity", "switch MAE"):
        table.add_column(col, justify="right")
    groups = {**result.per_class, "overall": result.overall}
    for name, g in groups.items():
        table.add_row(
            name, str(g.n_clips), f"{g.visqol_full:.2f}", _or_dash(g.visqol_light, inert), f"{g.visqol_mixed:.2f}",
            f"{g.light_usage:.0%}", _or_dash(g.sparsity, inert, "{:.0%}"), _or_dash(g.switch_mae, inert, "{:.3f}"),
        )
    return table


def _or_dash(value: float, inert: bool, fmt: str = "{:.2f}") -> str:
    return "-" if inert or not math.isfinite(value) else fmt.format(value)
