"""Optuna samplers by name: ``tpe``, ``nsga2``, ``gp``, ``random``, ``grid``.

TPE, NSGA-II and GP honour the constraints each trial sets (``Trial.set_constraint``, or the
``constraints_func`` they are built with); random and grid ignore them (the report still marks infeasible
points). An unknown name is a UserError listing the valid ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from dslnas.spaces.errors import unknown_name

if TYPE_CHECKING:
    import optuna

    from dslnas.search.config import SearchConfig

ConstraintsFunc = Callable[["optuna.trial.FrozenTrial"], "list[float]"]


def _tpe(config: "SearchConfig", constraints: ConstraintsFunc | None) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.TPESampler(seed=config.seed, multivariate=True, constraints_func=constraints)


def _nsga2(config: "SearchConfig", constraints: ConstraintsFunc | None) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.NSGAIISampler(seed=config.seed, population_size=8, constraints_func=constraints)


def _gp(config: "SearchConfig", constraints: ConstraintsFunc | None) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.GPSampler(seed=config.seed, constraints_func=constraints)


def _random(config: "SearchConfig", constraints: ConstraintsFunc | None) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.RandomSampler(seed=config.seed)


def _grid(config: "SearchConfig", constraints: ConstraintsFunc | None) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.GridSampler(config.space.grid(), seed=config.seed)


SamplerFactory = Callable[["SearchConfig", "ConstraintsFunc | None"], "optuna.samplers.BaseSampler"]
SAMPLERS: dict[str, SamplerFactory] = {"tpe": _tpe, "nsga2": _nsga2, "gp": _gp, "random": _random, "grid": _grid}


def check_sampler_name(name: str) -> str:
    if name not in SAMPLERS:
        raise unknown_name("sampler", name, list(SAMPLERS))
    return name


def make_sampler(config: "SearchConfig", constraints: ConstraintsFunc | None = None) -> "optuna.samplers.BaseSampler":
    """The sampler named by ``config.sampler``, seeded; ``constraints`` for samplers that take a
    ``constraints_func`` (Ray's OptunaSearch cannot call ``Trial.set_constraint``)."""
    return SAMPLERS[check_sampler_name(config.sampler)](config, constraints)
