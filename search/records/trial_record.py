"""What a search trial records, as a typed value, and how it maps onto an Optuna trial.

Every backend (Optuna workers, Ray Tune) writes trials into an Optuna storage through these helpers,
so reports, confirmation and export read one format whichever backend ran. The record travels as an
Optuna user attribute (JSON); :func:`record_to_json` / :func:`record_from_json` are the only code that
knows that JSON, and :func:`record_from_trial` reads a trial's record back as typed values.
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dslnas.hw_models.cost import Cost
from dslnas.search.records.attrs import ATTR_FAIL_REASON, ATTR_PARENT, ATTR_RECORD, ATTR_ROLE
from dslnas.spaces.candidate import STORED, CandidateConfig
from dslnas.spaces.run_config import LightInit
from dslnas.trainers.sweep_point import SweepPoint
from dslnas.spaces.space import Objective
from dslnas.spaces.errors import UserError

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
    timing_s: dict[str, float]            # train, evaluate, visqol, cost
    execution: str = "streaming"
    # ViSQOL's rules for quiet material (trainers.visqol_score): distinct references scored, levelled to
    # -26 dBFS (quiet), or digital silence (never sent to ViSQOL)
    visqol_references: dict[str, int] = field(default_factory=dict)
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


# -- JSON: the storage format ----------------------------------------------------------------------

def record_to_json(record: TrialRecord) -> dict[str, Any]:
    return {
        "candidate": record.candidate.model_dump(mode="json"),
        "visqol": asdict(record.visqol),
        "light_usage": record.light_usage,
        "light_usage_per_class": dict(record.light_usage_per_class),
        "visqol_per_class": {k: asdict(v) for k, v in record.visqol_per_class.items()},
        "sparsity": record.sparsity,
        "transitions_per_s": record.transitions_per_s,
        "switch": _nan_as_none(asdict(record.switch)),
        "cost": record.cost.to_record(),
        "checkpoint": record.checkpoint,
        "sweep": [_nan_as_none(asdict(p)) for p in record.sweep],
        "oracle_sweep": [_nan_as_none(asdict(p)) for p in record.oracle_sweep],
        "timing_s": dict(record.timing_s),
        "execution": record.execution,
        "checkpoint_artifact": record.checkpoint_artifact,
        "visqol_references": dict(record.visqol_references),
        "evaluated": {k: asdict(v) for k, v in record.evaluated.items()},
        "light_start": LightInit(record.light_start).value if record.light_start else None,
        "clips": [asdict(c) for c in record.clips],
        "fidelity_steps": record.fidelity_steps,
    }


def record_from_json(data: dict[str, Any]) -> TrialRecord:
    return TrialRecord(
        candidate=CandidateConfig.model_validate(data["candidate"], context=STORED),  # its name as stored
        visqol=PathQuality(**data["visqol"]),
        light_usage=float(data["light_usage"]),
        light_usage_per_class=dict(data["light_usage_per_class"]),
        visqol_per_class={k: PathQuality(**v) for k, v in data["visqol_per_class"].items()},
        sparsity=float(data["sparsity"]),
        transitions_per_s=float(data["transitions_per_s"]),
        switch=_switch_quality(data["switch"]),
        cost=Cost.from_record(data["cost"]),
        checkpoint=str(data["checkpoint"]),
        sweep=tuple(_sweep_point(p) for p in data["sweep"]),
        oracle_sweep=tuple(_sweep_point(p) for p in data["oracle_sweep"]),
        timing_s=dict(data["timing_s"]),
        execution=str(data["execution"]),
        visqol_references={k: int(v) for k, v in data.get("visqol_references", {}).items()},  # absent before rules
        checkpoint_artifact=data.get("checkpoint_artifact"),  # absent in records written before artifact stores
        evaluated={k: EvaluatedClass(int(v["clips"]), float(v["seconds"]), tuple(v["speakers"]))
                   for k, v in data.get("evaluated", {}).items()},  # absent in records written before it
        light_start=_light_start(data.get("light_start")),
        clips=tuple(ClipScore(**c) for c in data.get("clips", [])),  # absent in records written before it
        fidelity_steps=data.get("fidelity_steps"),  # absent in records written before multi-fidelity: full
    )


def _nan_as_none(figures: dict[str, Any]) -> dict[str, Any]:
    """Top-level figures in JSON: an undefined one (NaN) is null, never a number (read back as NaN)."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in figures.items()}


def _switch_quality(data: dict[str, Any]) -> SwitchQuality:
    def figure(value: float | None) -> float:
        return math.nan if value is None else float(value)

    return SwitchQuality(figure(data["spearman"]), figure(data["mae"]), data.get("oracle_saving_fraction"))


def _light_start(value: str | None) -> LightInit | None:
    """A stored light-tail start; None for a fresh codec (records before the enum wrote ``"fresh"``, older ones
    nothing)."""
    return None if value in (None, "", "fresh") else LightInit(value)


def _sweep_point(data: dict[str, Any]) -> SweepPoint:
    """A stored sweep point (null rates: NaN; records before the one sweep-point type lack the replay rates)."""
    return SweepPoint(**{k: math.nan if v is None else tuple(v) if isinstance(v, list) else v for k, v in data.items()})


# -- on an Optuna trial ----------------------------------------------------------------------------

def record_attrs(record: TrialRecord) -> dict[str, Any]:
    """The user attributes that store ``record`` on a trial."""
    return {ATTR_RECORD: record_to_json(record)}


def record_from_trial(trial: "optuna.trial.FrozenTrial") -> TrialRecord | None:
    """The record stored on ``trial``, or None (failed or still running trials have none)."""
    data = trial.user_attrs.get(ATTR_RECORD)
    if not data:
        return None
    try:
        return record_from_json(data)
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"trial {trial.number}'s record was written by another dslnas version "
                        f"({type(err).__name__}: {err}); rerun the search into a new --study") from None


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
