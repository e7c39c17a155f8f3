"""Checkpoints: one file per training run, written atomically, read with ``weights_only=True``.

A checkpoint holds the run config (as plain JSON-able data), the model and optimizer state, the step and
the loss history, so ``dslnas train`` resumes where it stopped and ``dslnas evaluate`` rebuilds the codec
from the file alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dslnas.spaces.candidate import RunConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import validate

FORMAT = "dslnas-codec/1"


@dataclass
class Checkpoint:
    run: RunConfig
    model: dict[str, torch.Tensor]
    step: int = 0
    optimizer: dict[str, Any] | None = None
    loss_history: list[float] = field(default_factory=list)
    rng_states: dict[str, torch.Tensor] = field(default_factory=dict)  # torch RNG and data sampler, to resume exactly


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write ``ckpt`` to ``path`` via a temporary file and rename, so a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "run": ckpt.run.model_dump(mode="json"),
        "model": ckpt.model,
        "step": ckpt.step,
        "optimizer": ckpt.optimizer,
        "loss_history": list(ckpt.loss_history),
        "rng_states": dict(ckpt.rng_states),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint (tensors and plain data only). Raises UserError naming the file when unusable."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise UserError(f"{path}: not a readable checkpoint ({type(err).__name__})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path}: not a dslnas checkpoint (expected format {FORMAT})")
    return Checkpoint(
        run=validate(RunConfig, payload["run"], str(path)),
        model=payload["model"],
        step=int(payload["step"]),
        optimizer=payload.get("optimizer"),
        loss_history=list(payload.get("loss_history", [])),
        rng_states=dict(payload.get("rng_states", {})),
    )
