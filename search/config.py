"""How a search runs (the space says what it searches): study, trial budget, backend, sampler, storage."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

from pydantic import Field

from dslnas.spaces.candidate import DataConfig, Frozen, PosInt
from dslnas.spaces.space import SearchSpace


class BackendKind(str, enum.Enum):
    OPTUNA = "optuna"  # Optuna workers (processes on this host, or anywhere sharing a PostgreSQL URL)
    RAY = "ray"        # Ray Tune Tuner with OptunaSearch, on a local Ray or a cluster (--address)


class SamplerKind(str, enum.Enum):
    TPE = "tpe"
    NSGA2 = "nsga2"
    GP = "gp"
    RANDOM = "random"
    GRID = "grid"


class SearchConfig(Frozen):
    """One search invocation. ``trials`` is the study's target number of completed trials: running the
    same command again after an interruption finishes the remainder."""

    study: str = "demo"
    space: SearchSpace
    trials: PosInt = 8
    backend: BackendKind = BackendKind.OPTUNA
    sampler: SamplerKind = SamplerKind.TPE
    seed: int = 0
    storage: str | None = None
    data: DataConfig | None = None          # overrides the space's data for training and evaluation
    profile: str = "a32-paper"
    workers: PosInt = 1
    ray_address: str | None = None
    cpus_per_trial: Annotated[float, Field(gt=0)] = 1.0
    gpus_per_trial: Annotated[float, Field(ge=0)] = 0.0
    max_concurrent_trials: PosInt | None = None
    heartbeat_interval_s: PosInt = 20
    grace_period_s: PosInt = 60
    runs_root: str = "runs"

    @property
    def study_root(self) -> Path:
        """Absolute folder for this study's files on this host (base codec, trial checkpoints)."""
        return (Path(self.runs_root) / self.study).resolve()
