"""What a training run trains: parameter groups per part (``Trainable``), their learning rates and modes."""

from __future__ import annotations

import math

import torch

from dslnas.spaces.run_config import LRSchedule, Trainable, TrainConfig
from dslnas.trainers.codec import DSL_PREFIXES, SWITCH_PREFIX, DSLCodec


def full_tail_prefixes(codec: DSLCodec) -> tuple[str, ...]:
    """State-dict name prefixes of the full tail: encoder blocks from the switch depth on, and the head."""
    depth, n_blocks = codec.candidate.dsl.switch_depth, codec.candidate.encoder.n_blocks
    return (*(f"encoder.blocks.{i}." for i in range(depth, n_blocks)), "encoder.head.")


def parameter_groups(codec: DSLCodec, trainable: Trainable) -> dict[str, list[torch.nn.Parameter]]:
    """The parameters ``trainable`` trains, by part (``switch``, the rest of the ``dsl``, ``full_tail``,
    ``rest``, or ``decoder`` alone for ``Trainable.DECODER``); empty parts left out.

    With ``dsl.alpha`` 0 the mask's threshold is not trained: nothing asks for zeros, and the reconstruction
    terms alone would lift it a little (a soft threshold denoises), which export, unable to fold it, drops."""
    if trainable is Trainable.DECODER:
        return {"decoder": list(codec.decoder.parameters())}
    tail = full_tail_prefixes(codec)
    groups: dict[str, list[torch.nn.Parameter]] = {"switch": [], "dsl": [], "full_tail": [], "rest": []}
    fixed = {id(codec.encoder.mask.threshold)} if codec.candidate.dsl.alpha == 0 else set()
    for name, param in codec.named_parameters():
        if id(param) in fixed:
            continue
        part = ("switch" if name.startswith(SWITCH_PREFIX) else "dsl" if name.startswith(DSL_PREFIXES)
                else "full_tail" if name.startswith(tail) else "rest")
        groups[part].append(param)
    dsl = ("switch", "dsl")
    keep = {Trainable.DSL: dsl, Trainable.DSL_TAIL: (*dsl, "full_tail"), Trainable.ALL: tuple(groups)}[trainable]
    return {part: params for part, params in groups.items() if part in keep and params}


def freeze_for(codec: DSLCodec, trainable: Trainable) -> list[dict]:
    """Set ``requires_grad`` for ``trainable`` and return the optimizer's parameter groups (one per part)."""
    groups = parameter_groups(codec, trainable)
    chosen = {id(p) for params in groups.values() for p in params}
    for param in codec.parameters():
        param.requires_grad_(id(param) in chosen)
    return [{"params": params, "name": part} for part, params in groups.items()]


def lr_multiplier(cfg: TrainConfig, part: str) -> float:
    """The learning-rate factor of a parameter group: ``switch_lr_mult`` for the switch head, else 1.

    The switch is a tiny head whose output must travel several nats (silence's discrepancy is far below
    speech's); Adam moves a weight at most about lr per step, so at the base rate a short fine-tune
    cannot get it there."""
    return cfg.switch_lr_mult if part == "switch" else 1.0


def set_train_mode(codec: DSLCodec, trainable: Trainable) -> None:
    """Train mode for what trains; frozen quantizer and decoder in eval mode (EMA codebooks and dead-code
    restarts stay put, no quantizer dropout), as the frozen base runs at inference."""
    if trainable is Trainable.DECODER:
        codec.eval()
        codec.decoder.train()
        return
    codec.train()
    if trainable is not Trainable.ALL:
        codec.quantizer.eval()
        codec.decoder.eval()


def learning_rate_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate of 0-based ``step``: linear warm-up over ``warmup_steps``, then constant or cosine decay."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule is LRSchedule.CONSTANT:
        return cfg.learning_rate
    span = max(1, cfg.steps - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    low = cfg.min_lr_fraction
    return cfg.learning_rate * (low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress)))
