"""The study's base codec: trained once, then every trial inserts its DSL into it and fine-tunes.

Several workers on one host share it through a file lock: the first trains, the others wait and reuse.
Training resumes from its own checkpoint, so an interrupted base training is not lost either.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from dslnas.search.config import SearchConfig
from dslnas.spaces.run_config import RunConfig
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.train import StepCallback, train


def base_run(config: SearchConfig) -> RunConfig:
    """The base codec's run: the space's base candidate, full path only (tau = 0), base budget."""
    data = config.data or config.space.base_train.data
    return RunConfig(
        candidate=config.space.base.with_dsl(threshold=0.0),
        train=config.space.base_train.model_copy(update={"data": data}),
        provenance={"role": "base codec", "study": config.study},
    )


def ensure_base_codec(config: SearchConfig, on_step: StepCallback | None = None) -> Path:
    """Path of the base codec checkpoint: the space's shipped ``pretrained_base`` when it names one (no
    training), else the study's own, trained first if this host has none yet."""
    if config.space.pretrained_base is not None:
        from dslnas.trainers.pretrained import resolve_init_checkpoint

        return resolve_init_checkpoint(config.space.pretrained_base)
    folder = config.study_root / "base_codec"
    folder.mkdir(parents=True, exist_ok=True)
    run = base_run(config)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ckpt = folder / "checkpoint.pt"
            if ckpt.exists() and load_checkpoint(ckpt).step >= run.train.steps:
                return ckpt
            return train(run, folder, on_step=on_step).checkpoint_path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

