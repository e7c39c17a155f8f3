"""CLI command ``stream``: listen to what the DSL does with a file, segment by segment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, StorageOpt, console, print_json
from dslnas.spaces.errors import UserError

RouteName = Literal["auto", "full", "light"]              # trainers.streaming.Route values a user picks
StatePolicyName = Literal["reset", "stale", "warm"]       # spaces.candidate.StatePolicy values


def stream_command(
    audio: Annotated[Path, typer.Option("--audio", help="Input audio (wav/flac), resampled to the codec's rate.")],
    out: Annotated[Path, typer.Option("--out", help="Decoded output WAV.")],
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="checkpoint.pt of a trained codec with its DSL (or --study and --trial).")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="Study whose trial's checkpoint to stream (with --trial).")] = None,
    trial: Annotated[Optional[int], typer.Option("--trial", min=0, help="Trial number in --study (sweep points: their parent's checkpoint).")] = None,
    storage: StorageOpt = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", min=0.0, help="Routing threshold (default: the candidate's).")] = None,
    route: Annotated[RouteName, typer.Option("--route", help="auto: the switch decides; full / light: force every segment.")] = "auto",
    state_policy: Annotated[Optional[StatePolicyName], typer.Option("--state-policy", help="History of a tail that sat idle (default: the candidate's).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Encode and decode a file segment by segment as a deployment would: routes, light usage, switch-backs."""
    from dataclasses import asdict

    from dslnas.spaces.candidate import StatePolicy
    from dslnas.trainers.checkpoint import load_checkpoint
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.stream_file import stream_file
    from dslnas.trainers.streaming import Route

    ckpt = load_checkpoint(_checkpoint_path(checkpoint, study, trial, storage))
    codec = build_codec(ckpt.run.candidate)
    codec.load_state_dict(ckpt.model)
    policy = None if state_policy is None else StatePolicy(state_policy)
    result = stream_file(codec, audio, out, threshold, Route(route), policy)
    if json_out:
        print_json(asdict(result))
        return
    routes = "".join("L" if r == "light" else "F" for r in result.routes)
    console.print(f"{result.segments} segments of {result.segment_ms:g} ms, threshold {result.threshold:.3g}, "
                  f"{result.state_policy} state: light {result.light_usage:.0%}, {result.transitions} switch-backs "
                  f"({result.transitions_per_s:.2f}/s), mask sparsity {result.mask_sparsity:.0%}", highlight=False)
    console.print(f"routes (L light, F full): {routes}", highlight=False, markup=False)
    if result.max_abs_diff_to_offline is not None:
        console.print(f"max |streamed - offline full| = {result.max_abs_diff_to_offline:.2e}", highlight=False)
    console.print(f"wrote {result.output_path}", highlight=False, markup=False)


def _checkpoint_path(checkpoint: Path | None, study: str | None, trial: int | None, storage: str | None) -> Path:
    """``--checkpoint``, or the checkpoint of ``--study``'s ``--trial`` found from this host (``search.artifacts``)."""
    if (checkpoint is None) == (study is None or trial is None):
        raise UserError("give either --checkpoint or both --study and --trial")
    if checkpoint is not None:
        return checkpoint
    from dslnas.search.artifacts import checkpoint_of
    from dslnas.search.storage import load_existing_study

    assert study is not None and trial is not None
    return checkpoint_of(load_existing_study(storage, study), trial)


def register(app: typer.Typer) -> None:
    app.command("stream")(stream_command)
