"""Export a trial as a RunConfig YAML the training pipeline trains with ``dslnas train --config`` as is.

By default the recipe **reproduces the scored point** (:data:`Recipe.SCORED`): the trial's own fine-tune,
exactly as ``search.trial`` ran it (``trial_train_config``): the space's fine-tune recipe (steps, batch,
learning rate, trainable parts: the DSL only, its light-tail start, its seed) from the study's base
(``pretrained:NAME`` for a shipped base, portable; else the study's base checkpoint on the search host) on
the search's data, and the candidate at the point's threshold. Training it gives back the trial's routing
and quality (tests/test_export_reproduces.py). :data:`Recipe.FROM_SCRATCH` is the explicit alternative:
the candidate trained from nothing for ``base_train.steps + finetune.steps`` with the base-training recipe.

The trial's checkpoint is kept in ``provenance.trial_checkpoint`` (the path on the node that trained it;
with ``fetch_checkpoint``, a file on this host from ``artifacts.checkpoint_of``) and
``provenance.checkpoint_artifact`` (its id in the study's artifact store, which every node reaches).

Provenance records where the config came from: study, trial, its role, the predicted costs (device
profile, latency and power of every pass), the measured confirmations, and the dslnas version.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from dslnas.hw_models.routing import PassFigures
from dslnas.search.artifacts import STUDY_ATTR_ARTIFACT_STORE, checkpoint_of
from dslnas.search.config import SearchConfig
from dslnas.search.pareto import search_config_of
from dslnas.search.records import (
    TrialRecord, fail_reason, record_from_trial, role_of, stored_confirmations, summarise_confirmations,
)
from dslnas.spaces.candidate import CANDIDATE_NAME
from dslnas.spaces.run_config import RunConfig, TrainConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.yaml_io import dump_model

if TYPE_CHECKING:
    from dslnas.search.point_source import PointSource


class Recipe(str, enum.Enum):
    """What the exported config trains: the scored fine-tune from the study's base, or from scratch."""

    SCORED = "scored"
    FROM_SCRATCH = "from-scratch"


RECIPE_NOTES = {
    Recipe.SCORED: "the trial's fine-tune: the space's finetune recipe from the study's base (init_checkpoint), "
                   "its seed and light-tail start, on the search's data",
    Recipe.FROM_SCRATCH: "from scratch: base_train recipe, steps = base_train.steps + finetune.steps",
}


def export_run_config(study: optuna.Study, trial_number: int, threshold: float | None = None,
                      fetch_checkpoint: bool = False, recipe: Recipe = Recipe.SCORED) -> RunConfig:
    """The RunConfig of ``trial_number`` (threshold replaced when given) training it by ``recipe``. UserError
    for an unusable trial, and, with ``fetch_checkpoint``, for a checkpoint neither on this host nor in the
    artifact store."""
    trial = _finished_trial(study, trial_number)
    record = record_from_trial(trial)
    assert record is not None  # _finished_trial checked
    candidate = record.candidate
    if not CANDIDATE_NAME.fullmatch(candidate.name):  # a name stored before the rule: the config must read back
        candidate = candidate.model_copy(update={"name": f"trial{trial_number}"})
    if threshold is not None:
        _check_threshold(record, trial_number, threshold)
        candidate = candidate.with_dsl(threshold=threshold)
    config = search_config_of(study)
    train = scored_recipe(config) if recipe is Recipe.SCORED else scratch_recipe(config)
    return RunConfig(candidate=candidate, train=TrainConfig.model_validate(train.model_dump()),
                     provenance=_provenance(study, trial, record, threshold, fetch_checkpoint, recipe))


def scored_recipe(config: SearchConfig) -> TrainConfig:
    """The fine-tune every trial of the study ran (``search.trial.trial_train_config``), from the study's base:
    ``pretrained:NAME`` as the space names it, else the study's own base checkpoint (``base_codec``: the path
    on the search host, where ``dslnas search`` trained it)."""
    from dslnas.search.trial import trial_train_config

    base = config.space.pretrained_base or str(config.study_root / "base_codec" / "checkpoint.pt")
    return trial_train_config(config, Path(base)).model_copy(update={"init_checkpoint": base})


def scratch_recipe(config: SearchConfig) -> TrainConfig:
    """The candidate trained from nothing as long as the search spent on it, with the base-training recipe."""
    space = config.space
    return space.base_train.model_copy(update={
        "steps": space.base_train.steps + space.finetune.steps,
        "data": config.data or space.base_train.data,
        "init_checkpoint": None,
    })


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
    record = record_from_trial(trial)
    if record is None:
        raise UserError(f"trial {number} completed without a dslnas record; pick another trial")
    if record.low_fidelity:
        raise UserError(f"trial {number} is a low-fidelity rung (fine-tuned {record.fidelity_steps} steps, not the "
                        "space's whole fine-tune); pick a fully trained trial from the front")
    return trial


def _check_threshold(record: TrialRecord, number: int, threshold: float) -> None:
    swept = [s.threshold for s in record.sweep]
    if not swept:
        raise UserError(f"trial {number} has no threshold sweep, so --threshold cannot be checked; leave it out")
    low, high = min(swept), max(swept)
    if not low <= threshold <= high:
        raise UserError(f"--threshold {threshold:g} is outside the range swept for trial {number} ({low:g}..{high:g})")


def _provenance(study: optuna.Study, trial: optuna.trial.FrozenTrial, record: TrialRecord, threshold: float | None,
                fetch_checkpoint: bool, recipe: Recipe) -> dict[str, Any]:
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
            "visqol": PassFigures(record.visqol_full, record.visqol_light, record.visqol_mixed).to_json(),
            "at_exported_threshold": asdict(sweep_point) if sweep_point else None,
        },
        "measured": [c.to_json() for c in summarise_confirmations(stored_confirmations(study.user_attrs, trial.number))],
        "trial_checkpoint": str(checkpoint_of(study, trial.number)) if fetch_checkpoint else record.checkpoint,
        "checkpoint_artifact": None if record.checkpoint_artifact is None else {
            "id": record.checkpoint_artifact, "store": study.user_attrs.get(STUDY_ATTR_ARTIFACT_STORE)},
        "recipe": {"kind": recipe.value, "note": RECIPE_NOTES[recipe], "light_start": record.light_start and record.light_start.value},
        "dslnas_version": version("dslnas"),
        "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def export_point_routed(point: "PointSource", fmt: str, out_dir: Path) -> Any:
    """The routed streaming encoder of ``point`` at its threshold (a trial's recorded one unless replaced) and
    state policy (``search.export_routed``): ``fmt`` ``"c"`` (C99 and its build files for the point's study
    profile, when it has one) or ``"onnx"`` (three graphs with explicit state and their driver). A shipped
    base exports its full path: its inert DSL is inserted and saved beside the export as ``base-with-dsl.pt``."""
    from dslnas.hw_models.profile import load_profile
    from dslnas.search import export_routed

    from dslnas.spaces.atomic_io import atomic_folder, relocated

    if point.record is not None and point.record.low_fidelity:
        raise UserError(f"{point.label} is a low-fidelity rung (fine-tuned {point.record.fidelity_steps} steps, not "
                        "the space's whole fine-tune); pick a fully trained trial from the front")
    with atomic_folder(out_dir) as fresh:  # a killed export leaves the earlier one whole, never a mix of two
        checkpoint = point.checkpoint_path
        if point.dsl_inert:
            from dslnas.trainers.checkpoint import Checkpoint, save_checkpoint

            checkpoint = fresh / INERT_BASE_FILE
            save_checkpoint(Checkpoint(run=point.run.model_copy(update={"candidate": point.candidate}),
                                       model=point.codec().state_dict(), step=0), checkpoint)
        if fmt == "onnx":
            info = export_routed.export_checkpoint_onnx(checkpoint, fresh, point.threshold)
        else:
            profile = None if point.profile is None else load_profile(point.profile)
            info = export_routed.export_checkpoint_c(checkpoint, fresh, point.threshold, profile=profile)
    return relocated(info, fresh, Path(out_dir))


INERT_BASE_FILE = "base-with-dsl.pt"
