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

from dslnas.spaces.run_config import LightInit, RunConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import validate
from dslnas.trainers.dsl import migrate_legacy_mask

FORMAT = "dslnas-codec/1"


@dataclass
class Checkpoint:
    run: RunConfig
    model: dict[str, torch.Tensor]
    step: int = 0
    optimizer: dict[str, Any] | None = None
    loss_history: list[float] = field(default_factory=list)
    rng_states: dict[str, torch.Tensor] = field(default_factory=dict)  # torch RNG and data sampler, to resume exactly
    light_start: LightInit | None = None  # how the run's light tail started (codec_start.start_light_tail); None: fresh


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> None:
    """Write ``ckpt`` to ``path`` via a temporary file and rename, so a crash never leaves half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"{path}: checkpoint folder cannot be created ({err.strerror or type(err).__name__})") from err
    payload = {
        "format": FORMAT,
        "run": ckpt.run.model_dump(mode="json"),
        "model": ckpt.model,
        "step": ckpt.step,
        "optimizer": ckpt.optimizer,
        "loss_history": list(ckpt.loss_history),
        "rng_states": dict(ckpt.rng_states),
        "light_start": "" if ckpt.light_start is None else ckpt.light_start.value,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: checkpoint cannot be written ({err.strerror or type(err).__name__})") from err


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
    if not isinstance(payload.get("run"), dict):
        raise UserError(f"{path}: checkpoint has no 'run' config")
    return Checkpoint(
        run=validate(RunConfig, payload["run"], str(path)),
        model=migrate_legacy_mask(_state_dict(payload.get("model"), path)),
        step=_step(payload.get("step"), path),
        optimizer=_optional_dict(payload, "optimizer", path),
        loss_history=_loss_history(payload.get("loss_history", []), path),
        rng_states=_optional_dict(payload, "rng_states", path) or {},
        light_start=_light_start(payload.get("light_start", ""), path),  # absent in checkpoints written before it
    )


def _light_start(value: Any, path: Path) -> LightInit | None:
    """How the stored run's light tail started: a :class:`LightInit` value, or "" / ``fresh`` (older
    checkpoints) for none."""
    if value in ("", "fresh"):
        return None
    try:
        return LightInit(value)
    except ValueError:
        raise UserError(f"{path}: checkpoint's light_start {value!r} is not one of "
                        f"{', '.join(m.value for m in LightInit)}") from None


def _state_dict(model: Any, path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's model weights: a non-empty mapping of names to tensors."""
    if model is None:
        raise UserError(f"{path}: checkpoint has no model weights ('model' is missing)")
    if not isinstance(model, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model.items()):
        raise UserError(f"{path}: checkpoint 'model' is not a state dict of named tensors")
    if not model:
        raise UserError(f"{path}: checkpoint 'model' is an empty state dict")
    return model


def _step(step: Any, path: Path) -> int:
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise UserError(f"{path}: checkpoint 'step' must be a non-negative integer, got {step!r}")
    return step


def _optional_dict(payload: dict[str, Any], key: str, path: Path) -> dict[str, Any] | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, dict):
        raise UserError(f"{path}: checkpoint '{key}' must be a mapping, got {type(value).__name__}")
    return value


def _loss_history(history: Any, path: Path) -> list[float]:
    if not isinstance(history, (list, tuple)) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in history):
        raise UserError(f"{path}: checkpoint 'loss_history' must be a list of numbers")
    return [float(x) for x in history]
