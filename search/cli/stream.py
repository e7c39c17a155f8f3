"""CLI command ``stream``: listen to what the DSL does with a file, segment by segment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, StorageOpt, console, print_json
from dslnas.search.cli.point import (
    CheckpointOpt, PointStudyOpt, PointTrialOpt, ThresholdOpt, describe_point, point_from_options,
)
from dslnas.spaces.errors import UserError

RouteName = Literal["auto", "full", "light"]              # trainers.streaming.Route values a user picks
StatePolicyName = Literal["reset", "stale", "warm"]       # spaces.candidate.StatePolicy values


def stream_command(
    audio: Annotated[Path, typer.Option("--audio", help="Input audio (wav/flac), resampled to the codec's rate.")],
    out: Annotated[Path, typer.Option("--out", help="Decoded output WAV.")],
    checkpoint: CheckpointOpt = None,
    study: PointStudyOpt = None,
    trial: PointTrialOpt = None,
    storage: StorageOpt = None,
    threshold: ThresholdOpt = None,
    route: Annotated[RouteName, typer.Option("--route", help="auto: the switch decides; full / light: force every segment.")] = "auto",
    state_policy: Annotated[Optional[StatePolicyName], typer.Option("--state-policy", help="History of a tail that sat idle (default: the candidate's).")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Also write a PNG of the routing timeline: waveform, the switch's prediction against the threshold, the path per segment, switch-backs and the oracle's choice at the same light usage.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Encode and decode a file segment by segment as a deployment would: routes, light usage, switch-backs.
    A shipped base (pretrained:NAME) streams its full path."""
    from dataclasses import asdict

    from dslnas.spaces.candidate import StatePolicy
    from dslnas.trainers.stream_file import stream_file
    from dslnas.trainers.streaming import Route, Tail

    from dslnas.spaces.yaml_io import check_writable_dir

    if out.is_dir():  # checked before the encode, not after it
        raise UserError(f"--out {out} is a folder; give the output WAV's path")
    check_writable_dir(out.parent, "--out folder")
    if plot is not None:
        if plot.is_dir():
            raise UserError(f"--plot {plot} is a folder; give the PNG's path")
        check_writable_dir(plot.parent, "--plot folder")
    point = point_from_options(checkpoint, study, trial, storage, threshold)
    if point.dsl_inert and Route(route) is Route.LIGHT:
        raise UserError(f"{point.label} is a base codec without a trained DSL: --route light needs a trained point")
    describe_point(point)
    policy = None if state_policy is None else StatePolicy(state_policy)
    codec = point.codec()
    result = stream_file(codec, audio, out, point.threshold, Route(route), policy)
    if plot is not None:
        from dslnas.search.report.listen import file_timeline
        from dslnas.search.report.timeline import timeline_png

        timeline_png(file_timeline(codec, audio, result), plot)
    if json_out:
        print_json({**asdict(result), "point": point.to_json(), "plot": None if plot is None else str(plot)})
        return
    routes = "".join("L" if Tail(r) is Tail.LIGHT else "F" for r in result.routes)
    console.print(f"{result.segments} segments of {result.segment_ms:g} ms, threshold {result.threshold:.3g}, "
                  f"{result.state_policy} state: light {result.light_usage:.0%}, {result.transitions} switch-backs "
                  f"({result.transitions_per_s:.2f}/s), mask sparsity {result.mask_sparsity:.0%}", highlight=False)
    console.print(f"routes (L light, F full): {routes}", highlight=False, markup=False)
    if result.max_abs_diff_to_offline is not None:
        console.print(f"max |streamed - offline full| = {result.max_abs_diff_to_offline:.2e}", highlight=False)
    console.print(f"wrote {result.output_path}" + (f" and {plot}" if plot is not None else ""), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("stream")(stream_command)
