"""Creating or reopening a study, its samplers, and the first (reference) trials."""

from __future__ import annotations

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import optuna

from dslnas.search.backends import get_backend
from dslnas.search.config import SearchConfig
from dslnas.search.records import STUDY_ATTR_CONFIG, STUDY_ATTR_VERSION, Role, role_attrs
from dslnas.search.samplers import make_sampler
from dslnas.search.storage import HeartbeatSettings, open_storage
from dslnas.spaces.errors import UserError

def open_study(config: SearchConfig) -> optuna.Study:
    """Create the study or reopen it; a reopened study must search the same space.

    Only the process that creates the study records its config and, for the Optuna backend, queues the
    reference and full-only baseline as the first trials, so workers starting together never queue them
    twice (creation is atomic in the storage). Ray passes them to its searcher instead.
    """
    storage = open_storage(
        config.storage, config.study, HeartbeatSettings(config.heartbeat_interval_s, config.grace_period_s),
        root=Path(config.runs_root),
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
    if get_backend(config.backend).queues_references:
        for role, params in config.space.reference_points().items():
            study.enqueue_trial(params, user_attrs=role_attrs(Role(role)))
    return study


def _check_same_space(study: optuna.Study, config: SearchConfig) -> None:
    stored = study.user_attrs.get(STUDY_ATTR_CONFIG)
    if stored is not None and stored.get("space") != config.space.model_dump(mode="json"):
        raise UserError(f"study {config.study!r} exists with a different search space; pick another --study")
    if len(study.directions) != len(config.space.objectives):
        raise UserError(f"study {config.study!r} exists with {len(study.directions)} objectives; pick another --study")
