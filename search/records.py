"""What a search trial records, as a typed value, and how it maps onto an Optuna trial.

Every backend (Optuna workers, Ray Tune) writes trials into an Optuna storage through these helpers,
so reports, confirmation and export read one format whichever backend ran. The record travels as Optuna
``user_attrs`` (JSON); :func:`record_from_trial` reads it back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna

from dslnas.spaces.space import Objective

ATTR_RECORD = "dslnas.record"          # TrialRecord as JSON
ATTR_FAIL_REASON = "dslnas.fail_reason"
ATTR_ROLE = "dslnas.role"              # "reference" (paper), "baseline" (full only) or "search"

STUDY_ATTR_CONFIG = "dslnas.search_config"   # SearchConfig as JSON
# On-device confirmations live on the study (finished trials are read-only in Optuna 5), one list per
# trial under "<prefix>.trial-<number>" (see search.confirm).
STUDY_ATTR_CONFIRMATIONS = "dslnas.confirmations"
STUDY_ATTR_VERSION = "dslnas.version"


@dataclass(frozen=True)
class SweepRecord:
    """One threshold of the sweep on the trained candidate: quality and predicted cost there."""

    threshold: float
    light_usage: float
    visqol_mixed: float
    latency_ms: float
    power_mw: float
    light_usage_per_class: dict[str, float] = field(default_factory=dict)
    visqol_mixed_per_class: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRecord:
    """Everything one finished trial measured. Units are in the names; usage and sparsity are 0..1."""

    candidate: dict[str, Any]             # CandidateConfig.model_dump(mode="json")
    visqol_full: float
    visqol_light: float
    visqol_mixed: float
    light_usage: float
    light_usage_per_class: dict[str, float]
    visqol_per_class: dict[str, dict[str, float]]   # class -> {"full", "light", "mixed"}
    sparsity: float
    switch_mae: float
    cost: dict[str, Any]                  # hw_models Cost.to_json(): latency_ms/power_mw per path, savings, paths
    profile: str
    checkpoint: str
    sweep: tuple[SweepRecord, ...]
    timing_s: dict[str, float]            # train, evaluate, visqol, cost

    @property
    def latency_ms(self) -> float:
        return float(self.cost["latency_ms"]["mixed"])

    @property
    def power_mw(self) -> float:
        return float(self.cost["power_mw"]["mixed"])

    def objective_value(self, objective: Objective) -> float:
        return {
            Objective.VISQOL: self.visqol_mixed,
            Objective.LATENCY_MS: self.latency_ms,
            Objective.POWER_MW: self.power_mw,
        }[objective]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> "TrialRecord":
        sweep = tuple(SweepRecord(**point) for point in data.get("sweep", ()))
        return TrialRecord(**{**data, "sweep": sweep})

    def check_finite(self) -> None:
        """Raise ValueError naming the first NaN/inf field (a NaN must fail the trial, not bias a front)."""
        for name in ("visqol_full", "visqol_light", "visqol_mixed", "light_usage", "latency_ms", "power_mw"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"trial produced a non-finite {name} ({value})")


def record_from_trial(trial: optuna.trial.FrozenTrial) -> TrialRecord | None:
    """The record stored on ``trial``, or None (failed or still running trials have none)."""
    data = trial.user_attrs.get(ATTR_RECORD)
    return TrialRecord.from_json(data) if data else None


def fail_reason(trial: optuna.trial.FrozenTrial) -> str | None:
    return trial.user_attrs.get(ATTR_FAIL_REASON)
