"""Creating or reopening a study, its samplers, and the first (reference) trials."""

from __future__ import annotations

import hashlib
import json
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.backends import get_backend
from dslnas.search.config import SearchConfig
from dslnas.search.points import CandidatePoints, constraint_values
from dslnas.search.records import STUDY_ATTR_CONFIG, STUDY_ATTR_VERSION, Role, record_attrs, role_attrs, role_of
from dslnas.search.samplers import make_sampler, sweep_points_per_candidate
from dslnas.search.storage import HeartbeatSettings, open_storage
from dslnas.spaces.errors import UserError

def open_study(config: SearchConfig, worker: int = 0) -> optuna.Study:
    """Create the study or reopen it (:func:`open_or_create_study`)."""
    return open_or_create_study(config, worker)[0]


def open_or_create_study(config: SearchConfig, worker: int = 0) -> tuple[optuna.Study, bool]:
    """Create the study or reopen it, and whether this call created it; a reopened study must search the same space.

    Only the process that creates the study records its config and, for the Optuna backend, queues the
    reference point (its sweep holds the full-only baseline) as the first trials, so workers starting together never queue them
    twice (creation is atomic in the storage). Ray passes them to its searcher instead.
    The sampler's seed is ``config.seed`` for the first process of a new study, and is derived from it, the
    trials the study holds and ``worker`` otherwise: a resumed study or a second worker does not replay the
    first process's draws (:func:`sampler_seed`).
    """
    storage = open_storage(
        config.storage, config.study, HeartbeatSettings(config.heartbeat_interval_s, config.grace_period_s),
        root=Path(config.runs_root),
    )
    sampler = make_sampler(config, trials_per_candidate=sweep_points_per_candidate(config))
    try:
        study = optuna.create_study(
            study_name=config.study, storage=storage, sampler=sampler,
            directions=[o.direction for o in config.space.objectives],
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=config.study, storage=storage, sampler=sampler)
        _check_same_space(study, config)
        return _reseeded(study, config, worker), False
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    study.set_user_attr(STUDY_ATTR_VERSION, version("dslnas"))
    with warnings.catch_warnings():  # set_metric_names is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([o.value for o in config.space.objectives])
    if get_backend(config.backend).queues_references:
        study.enqueue_trial(config.space.reference_point(), user_attrs=role_attrs(Role.REFERENCE))
    return _reseeded(study, config, worker), True


def sampler_seed(seed: int, trials_held: int, worker: int) -> int:
    """``seed`` for the first worker of a new study; else a seed derived from all three (stable, < 2**31)."""
    if trials_held == 0 and worker == 0:
        return seed
    digest = hashlib.blake2b(f"{seed}/{trials_held}/{worker}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


def _reseeded(study: optuna.Study, config: SearchConfig, worker: int) -> optuna.Study:
    held = len(study.get_trials(deepcopy=False, states=tuple(s for s in TrialState if s != TrialState.WAITING)))
    seed = sampler_seed(config.seed, held, worker)
    if seed != config.seed:
        reseeded = config.model_copy(update={"seed": seed})
        study.sampler = make_sampler(reseeded, trials_per_candidate=sweep_points_per_candidate(config))
    return study


def trained_trials(study: optuna.Study, states: tuple[TrialState, ...] = (TrialState.COMPLETE,)) -> list[optuna.trial.FrozenTrial]:
    """Trials that trained a model (search and reference trials), not the sweep points they stored."""
    return [t for t in study.get_trials(deepcopy=False, states=states) if role_of(t).trained]


def add_sweep_trials(study: optuna.Study, config: SearchConfig, parent: int, params: dict[str, Any],
                     points: CandidatePoints, parent_role: Role) -> None:
    """Store the other sweep points of trained trial ``parent`` as completed trials of their own.

    Each names its parent and shares its checkpoint; its params are the parent's plus the ``threshold``
    it was routed at, so the sampler learns from every point. The reference's point with no segment light
    is the study's full-only baseline.
    """
    thresholds = [p.threshold for p in points.points]
    dists = {k: v for k, v in config.space.optuna_distributions().items() if k in params}
    dists["threshold"] = optuna.distributions.FloatDistribution(min(0.0, *thresholds), max(thresholds) + 1e-9)
    baseline = _baseline_index(points) if parent_role is Role.REFERENCE else None
    for i, record in enumerate(points.points):
        if i == points.own:
            continue
        role = Role.BASELINE if i == baseline else Role.SWEEP
        study.add_trial(optuna.trial.create_trial(
            params={**params, "threshold": record.threshold}, distributions=dists,
            values=[record.objective_value(o) for o in config.space.objectives],
            user_attrs={**record_attrs(record), **role_attrs(role, parent)},
            constraints=constraint_values(record, config.space.constraints),
        ))


def _baseline_index(points: CandidatePoints) -> int | None:
    """The point with no segment on the light path (full only), when the sweep has one."""
    full_only = [i for i, p in enumerate(points.points) if p.light_usage == 0.0 and i != points.own]
    return full_only[0] if full_only else None


def _check_same_space(study: optuna.Study, config: SearchConfig) -> None:
    stored = study.user_attrs.get(STUDY_ATTR_CONFIG)
    if stored is not None and stored.get("space") != config.space.model_dump(mode="json"):
        raise UserError(f"study {config.study!r} exists with a different search space; pick another --study")
    if len(study.directions) != len(config.space.objectives):
        raise UserError(f"study {config.study!r} exists with {len(study.directions)} objectives; pick another --study")
