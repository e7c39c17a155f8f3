"""Pretrained codec bases shipped with dslnas, and the export that makes one.

A shipped base is a slim checkpoint (``trainers/pretrained/<name>.pt``): the run config it was trained
with and the codec's weights for inference, no optimizer state, RNG or loss history, in the ordinary
checkpoint format, so :func:`dslnas.trainers.checkpoint.load_checkpoint` (``weights_only=True``) reads it
and ``train.init_checkpoint: pretrained:<name>`` (or the path :func:`pretrained_checkpoint` returns)
starts DSL fine-tuning from it. The DSL parts are left out: the encoder's full weights are registered under
depth-independent names, so the base fits the same family with the DSL at any switch depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dslnas.spaces.errors import unknown_name
from dslnas.trainers.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from dslnas.trainers.codec import DSL_PREFIXES, fold_mask_scale, warn_if_threshold_dropped

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
PREFIX = "pretrained:"
MAX_BYTES = 5 * 1024 * 1024
"""A shipped checkpoint is at most 5 MB."""


@dataclass(frozen=True)
class PretrainedBase:
    """One shipped base: the candidate preset (family) it fits, its config and its file."""

    preset: str
    config: str          # the configs/ file that trains it
    filename: str

    @property
    def path(self) -> Path:
        return PRETRAINED_DIR / self.filename


PRETRAINED: dict[str, PretrainedBase] = {
    "speech16k": PretrainedBase(preset="demo", config="configs/speech16k.yaml", filename="speech16k.pt"),
}


def pretrained_checkpoint(name: str) -> Path:
    """Path of the shipped base ``name``; an unknown name is a UserError listing the valid ones."""
    if name not in PRETRAINED:
        raise unknown_name("pretrained base", name, list(PRETRAINED))
    return PRETRAINED[name].path


def resolve_init_checkpoint(value: str) -> Path:
    """``train.init_checkpoint`` as a file: ``pretrained:<name>`` -> the shipped base, else the path as given."""
    return pretrained_checkpoint(value[len(PREFIX):]) if value.startswith(PREFIX) else Path(value)


def slim_state(model: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inference weights of a base: every tensor but the DSL's (mask, switch, light tail), contiguous fp32."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.items() if not k.startswith(DSL_PREFIXES)}


def export_pretrained(checkpoint: str | Path, out: str | Path) -> Path:
    """Write the slim base of training ``checkpoint`` to ``out`` (a path, or a name of :data:`PRETRAINED`).

    Keeps the run config (provenance: the step it was taken at) and the inference weights only, with the
    trained mask's scale folded into the layer before the cut (:func:`.codec.fold_mask_scale`), so a DSL
    inserted into the base starts from the full path the checkpoint was trained and scored with. Raises
    ValueError when the result would exceed :data:`MAX_BYTES`.
    """
    ckpt = load_checkpoint(checkpoint)
    path = PRETRAINED[str(out)].path if str(out) in PRETRAINED else Path(out)
    run = ckpt.run.model_copy(update={"provenance": {**ckpt.run.provenance, "exported_from_step": ckpt.step}})
    base = fold_mask_scale(ckpt.model, ckpt.run.candidate.dsl.switch_depth)  # the function it was trained as
    warn_if_threshold_dropped(ckpt.model, str(checkpoint))
    save_checkpoint(Checkpoint(run=run, model=slim_state(base), step=ckpt.step), path)
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes exceeds the {MAX_BYTES}-byte limit for a shipped base")
    return path
