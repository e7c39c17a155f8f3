"""Creating or reopening a study, its samplers, and the first (reference) trials."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from typing import Any

import optuna

from dslnas.search.config import BackendKind, SamplerKind, SearchConfig
from dslnas.search.records import ATTR_ROLE, STUDY_ATTR_CONFIG, STUDY_ATTR_VERSION
from dslnas.search.storage import HeartbeatSettings, open_storage
from dslnas.spaces.errors import UserError

def make_sampler(config: SearchConfig) -> optuna.samplers.BaseSampler:
    """The sampler named by the config, seeded. TPE, NSGA-II and GP honour the constraints each trial sets
    (``Trial.set_constraint``); random and grid ignore them (the report still marks infeasible points)."""
    kind, seed = config.sampler, config.seed
    if kind is SamplerKind.TPE:
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if kind is SamplerKind.NSGA2:
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
    if kind is SamplerKind.GP:
        return optuna.samplers.GPSampler(seed=seed)
    if kind is SamplerKind.RANDOM:
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.GridSampler(grid_search_space(config), seed=seed)


def grid_search_space(config: SearchConfig) -> dict[str, list[Any]]:
    """Grid: every depth and width choice, the range ends of alpha/beta, three thresholds."""
    space = config.space
    grid: dict[str, list[Any]] = {"switch_depth": list(space.switch_depths)}
    for i in range(space.max_light_entries):
        grid[f"light_width_{i}"] = list(space.light_width_choices)
    grid["alpha"] = [space.alpha.low, space.alpha.high]
    grid["beta"] = [space.beta.low, space.beta.high]
    mid = (space.threshold.low + space.threshold.high) / 2
    grid["threshold"] = [space.threshold.low, mid, space.threshold.high]
    return grid


def open_study(config: SearchConfig) -> optuna.Study:
    """Create the study or reopen it; a reopened study must search the same space.

    Only the process that creates the study records its config and, for the Optuna backend, queues the
    reference and full-only baseline as the first trials, so workers starting together never queue them
    twice (creation is atomic in the storage). Ray passes them to its searcher instead.
    """
    storage = open_storage(
        config.storage, config.study, HeartbeatSettings(config.heartbeat_interval_s, config.grace_period_s)
    )
    sampler = make_sampler(config)
    try:
        study = optuna.create_study(
            study_name=config.study, storage=storage, sampler=sampler,
            directions=[o.direction for o in config.space.objectives],
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=config.study, storage=storage, sampler=sampler)
        _check_same_space(study, config)
        return study
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    study.set_user_attr(STUDY_ATTR_VERSION, version("dslnas"))
    with warnings.catch_warnings():  # set_metric_names is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.value for o in config.space.objectives])
    if config.backend is BackendKind.OPTUNA:
        for role, params in config.space.reference_points().items():
            study.enqueue_trial(params, user_attrs={ATTR_ROLE: role})
    return study


def _check_same_space(study: optuna.Study, config: SearchConfig) -> None:
    stored = study.user_attrs.get(STUDY_ATTR_CONFIG)
    if stored is not None and stored.get("space") != config.space.model_dump(mode="json"):
        raise UserError(f"study {config.study!r} exists with a different search space; pick another --study")
    if len(study.directions) != len(config.space.objectives):
        raise UserError(f"study {config.study!r} exists with {len(study.directions)} objectives; pick another --study")
