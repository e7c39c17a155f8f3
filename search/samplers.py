"""Optuna samplers by name: ``tpe``, ``nsga2``, ``gp``, ``random``, ``grid``.

Start-ups and populations are counted in trained candidates, not in trials: the Optuna backend stores every
sweep point of a trained candidate as a completed trial with the same knob values, so Optuna's defaults
(TPE's and GP's 10 start-up trials, a population of trials) would end the random start-up after the first
candidate and the sampler would then sample around that one candidate. TPE and GP draw
:data:`STARTUP_CANDIDATES` candidates before they model the front (the study's enqueued reference DSL,
where there is one, is the first of them); NSGA-II's generation is :data:`NSGA2_POPULATION_CANDIDATES` trained
candidates (its generations hold only the trials it sampled, never the sweep points stored beside them).

Conditional knobs (a light width exists only at its switch depth): TPE models them jointly per group of
knobs that occur together (``multivariate=True, group=True``: one group per depth's widths); GP and NSGA-II
model only the knobs every trial has (Optuna's intersection search space) and draw a depth's widths at random.

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
STARTUP_CANDIDATES = 3
"""Trained candidates TPE and GP take (the enqueued reference, then random draws) before they model the front."""
NSGA2_POPULATION_CANDIDATES = 4
"""Trained candidates in one NSGA-II generation."""


def _tpe(config: "SearchConfig", constraints: ConstraintsFunc | None, trials_per_candidate: int) -> "optuna.samplers.BaseSampler":
    import warnings

    import optuna

    with warnings.catch_warnings():  # multivariate/group are chosen on purpose: no "experimental" line per worker
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=config.seed, multivariate=True, group=True, constraints_func=constraints,
                                          n_startup_trials=STARTUP_CANDIDATES * trials_per_candidate)


def _nsga2(config: "SearchConfig", constraints: ConstraintsFunc | None, trials_per_candidate: int) -> "optuna.samplers.BaseSampler":
    import optuna

    # Counted in trained trials alone: NSGA-II files a trial under a generation when it samples it, and the sweep
    # points (added as finished trials) carry none, so a population of candidates x sweep points never filled
    # and every candidate stayed in the random first generation.
    return optuna.samplers.NSGAIISampler(seed=config.seed, constraints_func=constraints,
                                         population_size=NSGA2_POPULATION_CANDIDATES)


def _gp(config: "SearchConfig", constraints: ConstraintsFunc | None, trials_per_candidate: int) -> "optuna.samplers.BaseSampler":
    import optuna

    # A depth's widths exist only at that depth: GP models the knobs every trial has and draws those at random,
    # on purpose (module docstring), so no warning per knob and trial.
    return optuna.samplers.GPSampler(seed=config.seed, constraints_func=constraints, warn_independent_sampling=False,
                                     n_startup_trials=STARTUP_CANDIDATES * trials_per_candidate)


def _random(config: "SearchConfig", constraints: ConstraintsFunc | None, trials_per_candidate: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.RandomSampler(seed=config.seed)


def _grid(config: "SearchConfig", constraints: ConstraintsFunc | None, trials_per_candidate: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.GridSampler(config.space.grid(), seed=config.seed)


SamplerFactory = Callable[["SearchConfig", "ConstraintsFunc | None", int], "optuna.samplers.BaseSampler"]
SAMPLERS: dict[str, SamplerFactory] = {"tpe": _tpe, "nsga2": _nsga2, "gp": _gp, "random": _random, "grid": _grid}


def check_sampler_name(name: str) -> str:
    if name not in SAMPLERS:
        raise unknown_name("sampler", name, list(SAMPLERS))
    return name


def make_sampler(config: "SearchConfig", constraints: ConstraintsFunc | None = None,
                 trials_per_candidate: int = 1) -> "optuna.samplers.BaseSampler":
    """The sampler named by ``config.sampler``, seeded; ``constraints`` for samplers that take a
    ``constraints_func`` (Ray's OptunaSearch cannot call ``Trial.set_constraint``). ``trials_per_candidate``:
    completed trials the sampler's study gets per trained candidate (the Optuna backend's sweep points,
    :func:`sweep_points_per_candidate`; 1 for Ray's searcher, which sees each trained trial's own point)."""
    return SAMPLERS[check_sampler_name(config.sampler)](config, constraints, trials_per_candidate)


def sweep_points_per_candidate(config: "SearchConfig") -> int:
    """Sweep points (completed trials) a trained candidate adds: one per threshold of the sweep (the
    explicit ``sweep_thresholds``, else the default quantiles plus one above the maximum)."""
    from dslnas.trainers.stream_eval import SWEEP_QUANTILES

    return len(config.space.sweep_thresholds) or len(SWEEP_QUANTILES) + 1
