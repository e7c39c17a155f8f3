"""Export a trial (or a checkpoint) as the routed streaming encoder: portable C99 (``hw_models.c_export``) or
ONNX graphs with explicit state and their driver (``hw_models.routed_onnx``).

What is exported is what was scored and priced: the trial's trained weights (found from any host through
``search.artifacts``), its point's threshold, its state policy, and (C) the sparsity skip where the study's
profile prices it (``skips_zero_inputs``). ``describe``-style memory figures come back in the C result.
"""

from __future__ import annotations

from pathlib import Path

import optuna

from dslnas.hw_models.c_export.build_files import write_build_files
from dslnas.hw_models.c_export.export import CExportInfo, export_c
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.hw_models.routed_onnx import RoutedOnnxInfo, export_routed_onnx
from dslnas.search.artifacts import checkpoint_of
from dslnas.search.pareto import search_config_of
from dslnas.search.records import TrialRecord, record_from_trial
from dslnas.spaces.errors import UserError
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import DSLCodec, build_codec


def export_trial_c(study: optuna.Study, trial_number: int, out_dir: Path, threshold: float | None = None) -> CExportInfo:
    """The C of trial ``trial_number``: its weights at its threshold (or ``threshold``) and state policy, with
    a Makefile for the study profile's target and the example program (``c_export.build_files``)."""
    record = _record(study, trial_number)
    profile = load_profile(search_config_of(study).profile)
    return export_checkpoint_c(checkpoint_of(study, trial_number), out_dir,
                               record.threshold if threshold is None else threshold, profile)


def export_checkpoint_c(checkpoint: Path, out_dir: Path, threshold: float | None = None,
                        profile: DeviceProfile | None = None) -> CExportInfo:
    """The C of a trained codec's encoder (its candidate's threshold unless ``threshold`` is given), a Makefile
    and the example program. ``profile``: its default unit's target flags and sparsity skip (None: a host
    build, no skip)."""
    codec = _codec(checkpoint)
    unit = None if profile is None else profile.unit()
    info = export_c(codec, codec.candidate, out_dir, threshold, skip_zero_inputs=bool(unit and unit.skips_zero_inputs))
    where = "no device profile" if profile is None else f"profile {profile.name}, unit {profile.default_unit}"
    write_build_files(info, None if unit is None else unit.c_target, where)
    return info


def export_trial_onnx(study: optuna.Study, trial_number: int, out_dir: Path, threshold: float | None = None) -> RoutedOnnxInfo:
    """The routed ONNX graphs of trial ``trial_number`` at its threshold (or ``threshold``) and state policy."""
    record = _record(study, trial_number)
    return export_checkpoint_onnx(checkpoint_of(study, trial_number), out_dir,
                                  record.threshold if threshold is None else threshold)


def export_checkpoint_onnx(checkpoint: Path, out_dir: Path, threshold: float | None = None) -> RoutedOnnxInfo:
    """The routed ONNX graphs of a trained codec's encoder (its candidate's threshold unless ``threshold``)."""
    return export_routed_onnx(_codec(checkpoint).encoder, out_dir, threshold)


def _record(study: optuna.Study, trial_number: int) -> TrialRecord:
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == trial_number), None)
    record = None if trial is None else record_from_trial(trial)
    if record is None:
        raise UserError(f"study {study.study_name!r} has no completed trial {trial_number} with a record")
    return record


def _codec(checkpoint: Path) -> DSLCodec:
    ckpt = load_checkpoint(checkpoint)
    codec = build_codec(ckpt.run.candidate)
    codec.load_state_dict(ckpt.model)
    return codec.eval()
