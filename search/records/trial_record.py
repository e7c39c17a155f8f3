"""What a search trial records, as typed values, and the roles and failures an Optuna trial carries.

Every backend (Optuna workers, Ray Tune) writes trials into an Optuna storage through these helpers,
so reports, confirmation and export read one format whichever backend ran. The record travels as an
Optuna user attribute (JSON); ``search.records.stored`` is the only code that knows that JSON (one entry
per attribute of :class:`TrialRecord`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dslnas.hw_models.cost import Cost
from dslnas.search.records.attrs import ATTR_FAIL_REASON, ATTR_PARENT, ATTR_ROLE
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.run_config import LightInit
from dslnas.spaces.space import Objective
from dslnas.trainers.sweep_point import SweepPoint

if TYPE_CHECKING:
    import optuna


class Role(str, enum.Enum):
    """Why a trial is in the study."""

    SEARCH = "search"
    REFERENCE = "reference"  # the paper-style DSL of the base candidate
    SWEEP = "sweep"          # another threshold of a trained trial (its parent): no training of its own
    BASELINE = "baseline"    # the reference's sweep point with no segment light (full path only)

    @property
    def trained(self) -> bool:
        """Whether a trial of this role trained a model (sweep points and the baseline share their parent's)."""
        return self in (Role.SEARCH, Role.REFERENCE)


@dataclass(frozen=True)
class PathQuality:
    """ViSQOL MOS-LQO of the full, light and mixed pass."""

    full: float
    light: float
    mixed: float


@dataclass(frozen=True)
class SwitchQuality:
    """How well the switch routes, from the streaming run: rank correlation of predicted vs actual
    discrepancy per segment (paper Fig. 7; NaN where undefined, e.g. no spread), and the learned router's
    latency saving as a share of the oracle router's at equal mixed ViSQOL (None where the oracle saves
    nothing at that quality)."""

    spearman: float
    mae: float
    oracle_saving_fraction: float | None


@dataclass(frozen=True)
class EvaluatedClass:
    """What one class's quality was scored on: held-out clips, their audio seconds (as cut for scoring) and
    the speakers (or scenes) they come from, sorted; clips without a speaker add none."""

    clips: int
    seconds: float
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class ClipScore:
    """One held-out clip at this point: ViSQOL of the full path and of the routed (mixed) run, and the share of
    its segments routed light. The clips behind the bootstrap intervals of ``search.uncertainty``."""

    clip_id: str
    label: str
    seconds: float
    visqol_full: float
    visqol_mixed: float
    light_usage: float


@dataclass(frozen=True)
class VisqolRules:
    """Distinct reference clips ViSQOL scored for a candidate, and how many of them its rule for quiet material
    took (``trainers.visqol_rule``): ``levelled`` to -26 dBFS first, or ``digital_silence`` (never sent to ViSQOL)."""

    scored: int
    levelled: int
    digital_silence: int


@dataclass(frozen=True)
class TrialTiming:
    """Where a trained candidate's wall time went (every point of its sweep shares it): fine-tuning, the
    streaming evaluation (waiting on ViSQOL excluded), waiting on ViSQOL, and counting for the cost model."""

    train_s: float
    evaluate_s: float
    visqol_s: float
    cost_s: float


@dataclass(frozen=True)
class TrialRecord:
    """Everything one finished trial measured. Units are in the names; usage and sparsity are 0..1."""

    candidate: CandidateConfig            # its ``dsl.threshold`` is this point's
    visqol: PathQuality
    light_usage: float
    light_usage_per_class: dict[str, float]
    visqol_per_class: dict[str, PathQuality]
    sparsity: float                       # mask output sparsity, 0..1
    transitions_per_s: float              # light -> full switch-backs per second of audio
    switch: SwitchQuality
    cost: Cost                            # priced under this point's routing on ``cost.profile`` (no counts)
    checkpoint: str
    sweep: tuple[SweepPoint, ...]         # every threshold of the trained candidate (this point among them)
    oracle_sweep: tuple[SweepPoint, ...]  # the oracle router's curve on the same candidate
    timing: TrialTiming
    execution: str = "streaming"
    visqol_rules: VisqolRules | None = None  # None: records written before the rules were counted
    checkpoint_artifact: str | None = None  # Optuna artifact id of the checkpoint in the study's store (search.artifacts)
    evaluated: dict[str, EvaluatedClass] = field(default_factory=dict)  # per class: the held-out clips scored
    light_start: LightInit | None = None  # how the light tail started training (None: a codec trained fresh)
    clips: tuple[ClipScore, ...] = ()     # per held-out clip at this point (empty in records written before it)
    # fine-tune steps when fewer than the space's (a multi-fidelity rung, search.fidelity): never fully trained,
    # never on the front or exported; None: the space's whole fine-tune
    fidelity_steps: int | None = None

    @property
    def low_fidelity(self) -> bool:
        return self.fidelity_steps is not None

    @property
    def threshold(self) -> float:
        return self.candidate.dsl.threshold

    @property
    def switch_mae(self) -> float:
        return self.switch.mae

    @property
    def profile(self) -> str:
        return self.cost.profile

    @property
    def visqol_full(self) -> float:
        return self.visqol.full

    @property
    def visqol_light(self) -> float:
        return self.visqol.light

    @property
    def visqol_mixed(self) -> float:
        return self.visqol.mixed

    @property
    def latency_ms(self) -> float:
        return self.cost.latency_ms.mixed

    @property
    def power_mw(self) -> float:
        return self.cost.power_mw.mixed

    def objective_value(self, objective: Objective) -> float:
        return {
            Objective.VISQOL: self.visqol_mixed,
            Objective.LATENCY_MS: self.latency_ms,
            Objective.POWER_MW: self.power_mw,
        }[objective]

    def check_finite(self) -> None:
        """Raise ValueError naming the first NaN/inf field (a NaN must fail the trial, not bias a front)."""
        for name in ("visqol_full", "visqol_light", "visqol_mixed", "light_usage", "latency_ms", "power_mw"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise ValueError(f"trial produced a non-finite {name} ({value})")


# -- on an Optuna trial ----------------------------------------------------------------------------

def role_attrs(role: Role, parent: int | None = None) -> dict[str, Any]:
    """The user attributes that record a trial's role (and, for sweep points, the trained trial they share)."""
    return {ATTR_ROLE: role.value} if parent is None else {ATTR_ROLE: role.value, ATTR_PARENT: parent}


def parent_of(trial: "optuna.trial.FrozenTrial") -> int | None:
    """The trained trial a sweep point belongs to (None for a trained trial)."""
    parent = trial.user_attrs.get(ATTR_PARENT)
    return None if parent is None else int(parent)


def role_of(trial: "optuna.trial.FrozenTrial") -> Role:
    """The trial's role (a trial without one was sampled by the search)."""
    try:
        return Role(trial.user_attrs.get(ATTR_ROLE, Role.SEARCH.value))
    except ValueError:
        return Role.SEARCH


def fail_reason(trial: "optuna.trial.FrozenTrial") -> str | None:
    """Why the trial failed: dslnas's reason, else Optuna's own, else None."""
    reason = trial.user_attrs.get(ATTR_FAIL_REASON) or trial.system_attrs.get("fail_reason")
    return None if reason is None else str(reason)


def fail_attrs(err: BaseException | str) -> dict[str, str]:
    """The user attributes that record why a trial failed (one line, at most 500 characters)."""
    text = err if isinstance(err, str) else f"{type(err).__name__}: {err}"
    return {ATTR_FAIL_REASON: " ".join(text.split())[:500]}
