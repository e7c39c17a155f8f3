"""How a search runs (the space says what it searches): study, trial budget, backend, sampler, storage."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from dslnas.search.fidelity_config import FidelityConfig
from dslnas.spaces.candidate import Frozen, PosInt
from dslnas.spaces.run_config import DataConfig, LRSchedule
from dslnas.spaces.errors import UserError
from dslnas.spaces.space import SearchSpace


DEFAULT_RUNS_ROOT = "runs"   # where studies live when no --storage / runs_root says otherwise
DEFAULT_PROFILE = "a32-emulated"
"""The device profile candidates are priced on unless told otherwise (search, evaluate, cost, confirm): calibrated
on cycles of an emulated Cortex-A32, its cross-validated error stored in its provenance and shown in the report."""
REFERENCE_PROFILE = "a32-paper"
"""Solved from the paper's Table 1: reproduces Table 1 by construction and predicts nothing else (a reference,
not evidence); ``--profile a32-paper`` still prices on it."""
DEFAULT_SAMPLER = "random"
"""The sampler a search uses unless told otherwise: the best on ``bench/search_efficiency.py`` (demo space, 5
seeds; docs/search-efficiency.md). At 12 candidates (the demo's) and at 16 random search's median hypervolume
is the highest (it won 3 of 5 seeds against GP, 5 of 5 against TPE); no model-based sampler has beaten it there
yet. ``--sampler gp`` is the best model-based one (ahead of TPE on every seed); TPE kept to depth 2."""
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_study_name(name: str) -> str:
    """A study name is also a folder under ``runs_root``: letters, digits, '.', '_' and '-' only."""
    if not STUDY_NAME.match(name) or ".." in name:
        raise UserError(f"study name {name!r} is not usable: use letters, digits, '.', '_' and '-' (no '/', no '..')")
    return name


class SearchConfig(Frozen):
    """One search invocation. ``trials`` is the study's target number of completed trials: running the
    same command again after an interruption finishes the remainder."""

    study: str = "demo"
    space: SearchSpace
    trials: PosInt = 8
    backend: str = "optuna"                 # a name in search.backends.BACKENDS
    sampler: str = DEFAULT_SAMPLER          # a name in search.samplers.SAMPLERS
    seed: int = 0
    storage: str | None = None
    data: DataConfig | None = None          # overrides the space's data for training and evaluation
    profile: str = DEFAULT_PROFILE
    workers: PosInt = 1
    ray_address: str | None = None
    cpus_per_trial: Annotated[float, Field(gt=0)] = 1.0
    gpus_per_trial: Annotated[float, Field(ge=0)] = 0.0
    max_concurrent_trials: PosInt | None = None
    heartbeat_interval_s: PosInt = 20
    grace_period_s: PosInt = 60
    runs_root: str = DEFAULT_RUNS_ROOT
    # Where trial checkpoints are uploaded (Optuna artifacts): a folder every node reaches (default
    # ``<runs_root>/<study>/artifacts``) or ``s3://bucket/prefix`` (an S3-compatible store, boto3).
    artifact_store: str | None = None
    # torch threads per worker process (default: this host's cores / local workers; Ray: cpus_per_trial).
    torch_threads: PosInt | None = None
    # Pareto successive halving on the fine-tune's steps (search.fidelity); None: every candidate fully fine-tuned.
    fidelity: FidelityConfig | None = None

    @field_validator("study")
    @classmethod
    def _safe_study_name(cls, value: str) -> str:
        return check_study_name(value)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from dslnas.search.backends import check_backend_name

        return check_backend_name(value)

    @field_validator("sampler")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        from dslnas.search.samplers import check_sampler_name

        return check_sampler_name(value)

    @model_validator(mode="after")
    def _fidelity_fits_the_space(self) -> "SearchConfig":
        finetune = self.space.finetune
        if self.fidelity is not None and self.fidelity.full_steps != finetune.steps:
            raise ValueError(f"fidelity.rungs_steps must end at the space's finetune.steps ({finetune.steps}), "
                             f"got {list(self.fidelity.rungs_steps)}")
        if self.fidelity is not None and LRSchedule(finetune.lr_schedule) is not LRSchedule.CONSTANT:
            raise ValueError("fidelity needs finetune.lr_schedule constant: a rung continued from a shorter run "
                             "would not follow the full run's cosine schedule")
        return self

    @property
    def artifact_location(self) -> str:
        """The artifact store as stored in the study: an absolute folder or an ``s3://`` URL."""
        if self.artifact_store and self.artifact_store.startswith("s3://"):
            return self.artifact_store
        return str(Path(self.artifact_store).resolve() if self.artifact_store else self.study_root / "artifacts")

    def threads_per_worker(self, local_workers: int) -> int:
        """torch threads for one of ``local_workers`` processes sharing this host's cores."""
        if self.torch_threads is not None:
            return self.torch_threads
        return max(1, len(os.sched_getaffinity(0)) // max(1, local_workers))

    @property
    def study_root(self) -> Path:
        """Absolute folder for this study's files on this host (base codec, trial checkpoints)."""
        return (Path(self.runs_root) / self.study).resolve()
