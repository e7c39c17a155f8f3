"""Export a trial as a RunConfig YAML the training pipeline trains with ``dslnas train --config`` as is.

The recipe trains the chosen candidate **from scratch**, for as many steps as the search spent on it in
total (``base_train.steps + finetune.steps``), with the base-training recipe (batch, learning rate, seed,
losses) and the search's data (``SearchConfig.data`` when the search overrode it, else the space's
``base_train.data``). ``init_checkpoint`` is left empty: a trial checkpoint lives on the search host
(often a cluster node) and was fine-tuned on a search budget, so a config that depends on it would not
train anywhere else. The trial's checkpoint is kept in ``provenance.trial_checkpoint`` (the path on the node that
trained it; with ``fetch_checkpoint``, a file on this host from ``artifacts.checkpoint_of``) and
``provenance.checkpoint_artifact`` (its id in the study's artifact store, which every node reaches) for
whoever wants to start from it (set ``train.init_checkpoint`` to it and lower ``train.steps``).

Provenance records where the config came from: study, trial, its role, the predicted costs (device
profile, latency and power of every pass), the measured confirmations, and the dslnas version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from dslnas.search.artifacts import STUDY_ATTR_ARTIFACT_STORE, checkpoint_of
from dslnas.search.pareto import search_config_of
from dslnas.search.records import (
    TrialRecord, fail_reason, record_from_trial, role_of, stored_confirmations, summarise_confirmations,
)
from dslnas.spaces.run_config import RunConfig, TrainConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import dump_model


def export_run_config(study: optuna.Study, trial_number: int, threshold: float | None = None,
                      fetch_checkpoint: bool = False) -> RunConfig:
    """The RunConfig of ``trial_number`` (threshold replaced when given). UserError for an unusable trial,
    and, with ``fetch_checkpoint``, for a checkpoint neither on this host nor in the artifact store."""
    trial = _finished_trial(study, trial_number)
    record = record_from_trial(trial)
    assert record is not None  # _finished_trial checked
    candidate = record.candidate
    if threshold is not None:
        _check_threshold(record, trial_number, threshold)
        candidate = candidate.with_dsl(threshold=threshold)
    config = search_config_of(study)
    space = config.space
    train = space.base_train.model_copy(update={
        "steps": space.base_train.steps + space.finetune.steps,
        "data": config.data or space.base_train.data,
        "init_checkpoint": None,
    })
    return RunConfig(candidate=candidate, train=TrainConfig.model_validate(train.model_dump()),
                     provenance=_provenance(study, trial, record, threshold, fetch_checkpoint))


def write_run_config(run: RunConfig, path: str | Path) -> Path:
    """Write ``run`` as YAML (the format ``dslnas train --config`` reads)."""
    dump_model(run, path)
    return Path(path)


def _finished_trial(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    trials = study.get_trials(deepcopy=False)
    trial = next((t for t in trials if t.number == number), None)
    if trial is None:
        span = f"0..{len(trials) - 1}" if trials else "none"
        raise UserError(f"study {study.study_name!r} has no trial {number} (trials: {span})")
    if trial.state != TrialState.COMPLETE:
        reason = fail_reason(trial)
        raise UserError(f"trial {number} is {trial.state.name.lower()}" + (f": {reason}" if reason else "") + "; pick a completed trial")
    if record_from_trial(trial) is None:
        raise UserError(f"trial {number} completed without a dslnas record; pick another trial")
    return trial


def _check_threshold(record: TrialRecord, number: int, threshold: float) -> None:
    swept = [s.threshold for s in record.sweep]
    if not swept:
        raise UserError(f"trial {number} has no threshold sweep, so --threshold cannot be checked; leave it out")
    low, high = min(swept), max(swept)
    if not low <= threshold <= high:
        raise UserError(f"--threshold {threshold:g} is outside the range swept for trial {number} ({low:g}..{high:g})")


def _provenance(study: optuna.Study, trial: optuna.trial.FrozenTrial, record: TrialRecord, threshold: float | None,
                fetch_checkpoint: bool) -> dict[str, Any]:
    cost = record.cost
    searched = record.candidate.dsl.threshold
    sweep_point = next((s for s in record.sweep if threshold is not None and abs(s.threshold - threshold) < 1e-12), None)
    return {
        "study": study.study_name,
        "trial": trial.number,
        "role": role_of(trial).value,
        "threshold": {"searched": searched, "exported": searched if threshold is None else threshold},
        "predicted": {
            "device_profile": record.profile,
            "light_usage": record.light_usage,
            "latency_ms": asdict(cost.latency_ms),
            "power_mw": asdict(cost.power_mw),
            "visqol": {"full": record.visqol_full, "light": record.visqol_light, "mixed": record.visqol_mixed},
            "at_exported_threshold": asdict(sweep_point) if sweep_point else None,
        },
        "measured": [c.to_json() for c in summarise_confirmations(stored_confirmations(study.user_attrs, trial.number))],
        "trial_checkpoint": str(checkpoint_of(study, trial.number)) if fetch_checkpoint else record.checkpoint,
        "checkpoint_artifact": None if record.checkpoint_artifact is None else {
            "id": record.checkpoint_artifact, "store": study.user_attrs.get(STUDY_ATTR_ARTIFACT_STORE)},
        "recipe": "from scratch: base_train recipe, steps = base_train.steps + finetune.steps",
        "dslnas_version": version("dslnas"),
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
