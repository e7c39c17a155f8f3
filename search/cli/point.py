"""The options that name one scored point, shared by ``evaluate``, ``stream``, ``confirm`` and ``export``.

``--checkpoint pretrained:NAME`` (a shipped base, full path only), ``--checkpoint FILE`` (a trained codec;
a trial's checkpoint is routed at its trial's recorded threshold) or ``--study S --trial N`` (with
``--storage``): :func:`point_from_options` resolves them through :func:`dslnas.search.point_source.resolve_point`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dslnas.search.cli.common import console

if TYPE_CHECKING:
    from dslnas.search.point_source import PointSource

CheckpointOpt = Annotated[Optional[str], typer.Option(
    "--checkpoint", help="pretrained:NAME (a shipped base, full path only) or a checkpoint.pt (a trial's is routed "
    "at its recorded threshold); or give --study and --trial.")]
PointStudyOpt = Annotated[Optional[str], typer.Option("--study", help="Study of the point (with --trial).")]
PointTrialOpt = Annotated[Optional[int], typer.Option(
    "--trial", min=0, help="Trial number in --study (a sweep point: its parent's weights at its own threshold).")]
ThresholdOpt = Annotated[Optional[float], typer.Option(
    "--threshold", min=0.0, help="Routing threshold (default: the point's: a trial's recorded one).")]


def point_from_options(checkpoint: str | None, study: str | None, trial: int | None, storage: str | None,
                       threshold: float | None = None) -> "PointSource":
    """The point the options name, at ``threshold`` when given (a UserError for a bad combination)."""
    import math

    from dslnas.search.point_source import resolve_point
    from dslnas.spaces.errors import UserError

    if threshold is not None and not math.isfinite(threshold):
        raise UserError(f"--threshold must be a finite number, got {threshold}")
    return resolve_point(checkpoint, study, trial, storage).at_threshold(threshold)


def describe_point(point: "PointSource") -> None:
    """One line on stderr: which weights, routed at which threshold and why."""
    console.print(f"{point.label}: {point.checkpoint_path}, threshold {point.threshold:.4g} ({point.threshold_from})",
                  highlight=False, markup=False, soft_wrap=True)
