"""The search space: which DSL knobs a study varies, and what it optimises.

Knobs: switch depth, light-path widths (one per light-tail entry; with ``widths_per_depth`` one per depth
and layer), compression weight alpha (log scale), beta (log scale) and, optionally, the tails' state
policy, the switch head's width and the light tail's residual units and kernel. The routing threshold tau is not a
knob: training never reads it, so every trained candidate is swept over thresholds taken from its own
predicted-discrepancy distribution (``sweep_thresholds`` sets explicit ones). Each knob is one annotated
field below (see
:mod:`dslnas.spaces.knobs`: the annotation names the knob and where it lands in the candidate, the value
gives its choices or range); Optuna's suggestions and distributions, Ray Tune's ``param_space``, the grid,
params <-> candidate and the report's columns all derive from that table. Fixed parts: the base candidate
(architecture, quantizer, decoder) and the training budgets (the base codec once per study, then a
fine-tune per trial).

Adding a knob is its field here plus the ``CandidateConfig`` field it sets, e.g.::

    segment_frames: Annotated[tuple[PosInt, ...] | None, KnobDecl("segment_frames", "dsl.segment_frames")] = None
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ConfigDict, Field, NonNegativeInt, StrictInt, field_validator, model_validator

from dslnas.spaces.candidate import CandidateConfig, Frozen, PosInt, StatePolicy
from dslnas.spaces.run_config import Trainable, TrainConfig
from dslnas.spaces.knobs import Knob, KnobDecl, KnobKind, get_target, set_target

if TYPE_CHECKING:
    import optuna


class Objective(str, enum.Enum):
    """What a study optimises; the direction is fixed by the objective."""

    VISQOL = "visqol"          # ViSQOL MOS-LQO of the mixed pass, maximise
    LATENCY_MS = "latency_ms"  # predicted mixed-pass latency at the measured light usage, minimise
    POWER_MW = "power_mw"      # predicted mixed-pass power at the measured light usage, minimise

    @property
    def maximise(self) -> bool:
        return self is Objective.VISQOL

    @property
    def direction(self) -> str:
        """Optuna's name of the direction (``create_study(directions=...)`` takes it)."""
        return "maximize" if self.maximise else "minimize"


class _Range(Frozen):
    """A knob's range: ``low <= high``, and ``low > 0`` on a log scale (subclasses type the bounds)."""

    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> "_Range":
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale range needs low > 0, got {self.low}")
        return self


class FloatRange(_Range):
    model_config = ConfigDict(allow_inf_nan=False)


class Constraints(Frozen):
    """Feasibility limits (Optuna constraints: a trial breaking any is infeasible). None = no limit."""

    model_config = ConfigDict(allow_inf_nan=False)

    min_visqol: float | None = None
    max_visqol_drop: float | None = Field(default=None, ge=0.0)  # mixed vs full-only of the same trial
    max_latency_ms: float | None = Field(default=None, gt=0.0)
    max_power_mw: float | None = Field(default=None, gt=0.0)
    max_ram_kib: float | None = Field(default=None, gt=0.0)       # the deployed encoder: both tails' state
    max_flash_kib: float | None = Field(default=None, gt=0.0)     # the deployed encoder: both tails' weights
    max_real_time_factor: float | None = Field(default=None, gt=0.0)  # mixed latency per segment / segment length


class IntRange(_Range):
    low: StrictInt
    high: StrictInt


class SearchSpace(Frozen):
    name: str = "custom"
    base: CandidateConfig = CandidateConfig()
    switch_depths: Annotated[tuple[PosInt, ...], KnobDecl("switch_depth", "dsl.switch_depth")]
    light_width_choices: Annotated[tuple[PosInt, ...], KnobDecl("light_width", "dsl.light_widths", per_entry=True)]
    alpha: Annotated[FloatRange, KnobDecl("alpha", "dsl.alpha")]
    beta: Annotated[FloatRange, KnobDecl("beta", "dsl.beta")]
    state_policies: Annotated[tuple[StatePolicy, ...] | None, KnobDecl("state_policy", "dsl.state_policy")] = None
    switch_hidden: Annotated[tuple[PosInt, ...] | None, KnobDecl("switch_hidden", "dsl.switch_hidden")] = None
    light_residual_units: Annotated[tuple[NonNegativeInt, ...] | None,
                                    KnobDecl("light_residual_units", "dsl.light_residual_units", column="light_units")] = None
    light_kernels: Annotated[tuple[PosInt, ...] | None, KnobDecl("light_kernel", "dsl.light_kernel")] = None
    widths_per_depth: bool = False             # light widths per (depth, layer): knobs light_width_d<depth>_<i>
    sweep_thresholds: tuple[float, ...] = ()   # empty: quantiles of each candidate's predicted discrepancy
    oracle: bool = True                        # also sweep the oracle router (the bound routing can reach)
    # A shipped base (``pretrained:speech16k``) or a checkpoint path to insert every DSL into; None: the study
    # trains its own base codec first with ``base_train``.
    pretrained_base: str | None = None
    base_train: TrainConfig = TrainConfig()
    finetune: TrainConfig = TrainConfig(steps=60)
    objectives: tuple[Objective, ...] = (Objective.VISQOL, Objective.LATENCY_MS)
    constraints: Constraints = Constraints()
    latency_budgets_ms: tuple[float, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _threshold_is_swept(cls, data: Any) -> Any:
        if isinstance(data, dict) and "threshold" in data:
            raise ValueError("threshold is swept on every trained candidate, not searched: remove it "
                             "(sweep_thresholds sets explicit thresholds)")
        return data

    @field_validator("switch_depths", "light_width_choices", "objectives", "switch_hidden", "light_residual_units",
                     "light_kernels", "state_policies")
    @classmethod
    def _non_empty(cls, value: tuple | None) -> tuple | None:
        if value is None:
            return value
        if not value:
            raise ValueError("must offer at least one choice")
        if len(set(value)) != len(value):
            raise ValueError("choices must not repeat")
        return value

    @model_validator(mode="after")
    def _check(self) -> "SearchSpace":
        n_blocks = self.base.encoder.n_blocks
        bad = [d for d in self.switch_depths if not 1 <= d <= n_blocks]
        if bad:
            raise ValueError(f"switch_depths {bad} outside [1, {n_blocks}] for the base encoder")
        if any(t < 0 for t in self.sweep_thresholds):
            raise ValueError("sweep_thresholds must be >= 0")
        for key, values in (("sweep_thresholds", self.sweep_thresholds), ("latency_budgets_ms", self.latency_budgets_ms)):
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{key} must be finite numbers, got {list(values)}")
        if any(b <= 0 for b in self.latency_budgets_ms):
            raise ValueError(f"latency_budgets_ms must be > 0, got {list(self.latency_budgets_ms)}")
        if self.finetune.trainable is Trainable.DECODER:
            raise ValueError("finetune.trainable 'decoder' trains no DSL: use dsl, dsl+tail or all")
        if self.widths_per_depth:
            for depth in self.switch_depths:
                for i, full in enumerate(self._full_widths(depth)):
                    if min(self.light_width_choices) > full:
                        raise ValueError(f"light_width_choices offer no width <= {full}, the full path's at entry {i} "
                                         f"of switch depth {depth}")
        reference = self.reference_point()
        for knob in self.knobs():
            if knob.name in reference and not knob.admits(reference[knob.name]):
                where = f"[{knob.low:g}, {knob.high:g}]" if knob.kind is not KnobKind.CATEGORICAL else f"{list(knob.choices)}"
                raise ValueError(f"the base candidate's {knob.target} ({reference[knob.name]}) is outside the space's "
                                 f"{knob.name} {where}: the reference trial could not be run")
        return self

    # -- the knob table ---------------------------------------------------------------------------

    @property
    def max_light_entries(self) -> int:
        return self.base.encoder.n_blocks - min(self.switch_depths) + 1

    def light_entries(self, params: Mapping[str, Any]) -> int:
        """Light-tail widths a point needs: ``n_blocks - switch_depth + 1``."""
        depth = int(params.get("switch_depth", self.base.dsl.switch_depth))
        return self.base.encoder.n_blocks - depth + 1

    def _full_widths(self, depth: int) -> tuple[int, ...]:
        return self.base.with_dsl(switch_depth=depth, light_widths=(1,) * (self.base.encoder.n_blocks - depth + 1)).full_tail_widths

    def knob_declarations(self) -> list[tuple[str, KnobDecl]]:
        """(field name, declaration) of every searched field, in declaration order."""
        decls = []
        for field_name, info in type(self).model_fields.items():
            decl = next((m for m in info.metadata if isinstance(m, KnobDecl)), None)
            if decl is not None and getattr(self, field_name) is not None:
                decls.append((field_name, decl))
        return decls

    def knobs(self) -> tuple[Knob, ...]:
        """Every concrete searched parameter, in sampling order (a per-entry knob expands to ``<name>_<i>``)."""
        rows: list[Knob] = []
        for field_name, decl in self.knob_declarations():
            value = getattr(self, field_name)
            if decl.per_entry and self.widths_per_depth:  # each layer offers the widths it admits
                rows += [self._knob(f"{decl.name}_d{d}_{i}", decl, tuple(c for c in value if c <= full), entry=i, depth=d)
                         for d in self.switch_depths for i, full in enumerate(self._full_widths(d))]
            elif decl.per_entry:
                rows += [self._knob(f"{decl.name}_{i}", decl, value, entry=i) for i in range(self.max_light_entries)]
            else:
                rows.append(self._knob(decl.name, decl, value))
        return tuple(rows)

    def _active(self, entry: int | None, depth: int | None) -> Callable[[Mapping[str, Any]], bool]:
        if entry is None:
            return lambda params: True
        if depth is None:
            return lambda params: entry < self.light_entries(params)
        return lambda params: int(params.get("switch_depth", self.base.dsl.switch_depth)) == depth

    def _knob(self, name: str, decl: KnobDecl, value: Any, entry: int | None = None, depth: int | None = None) -> Knob:
        common = {"name": name, "target": decl.target, "entry": entry, "depth": depth, "grid_points": decl.grid_points,
                  "active": self._active(entry, depth)}
        if isinstance(value, FloatRange):
            return Knob(kind=KnobKind.FLOAT, low=value.low, high=value.high, log=value.log, **common)
        if isinstance(value, IntRange):
            return Knob(kind=KnobKind.INT, low=value.low, high=value.high, log=value.log, **common)
        choices = tuple(v.value if isinstance(v, enum.Enum) else v for v in value)  # storable as JSON
        return Knob(kind=KnobKind.CATEGORICAL, choices=choices, **common)

    def candidate_from_params(self, params: dict[str, Any]) -> CandidateConfig:
        """The candidate for one point (keys: the knob names; inactive entries are ignored)."""
        data = self.base.model_dump(mode="json")
        entries: dict[str, list[Any]] = {}
        for knob in self.knobs():
            if not knob.active(params):
                continue
            value = params[knob.name]
            if knob.entry is None:
                set_target(data, knob.target, value)
            else:
                entries.setdefault(knob.target, []).append(value)
        for target, values in entries.items():
            set_target(data, target, values)
        candidate = CandidateConfig.model_validate(data)
        dsl = candidate.dsl
        name = f"{self.name}-d{dsl.switch_depth}-w{'x'.join(map(str, dsl.light_widths))}"
        return candidate.model_copy(update={"name": name})

    def suggest(self, trial: "optuna.trial.BaseTrial") -> CandidateConfig:
        """Sample a candidate on an Optuna trial (define-by-run: only the knobs the point uses)."""
        params: dict[str, Any] = {}
        for knob in self.knobs():
            if knob.active(params):
                params[knob.name] = knob.suggest(trial)
        return self.candidate_from_params(params)

    def optuna_distributions(self) -> dict[str, "optuna.distributions.BaseDistribution"]:
        """All knobs as Optuna distributions (every entry present), e.g. for Ray's OptunaSearch."""
        return {knob.name: knob.distribution() for knob in self.knobs()}

    def ray_param_space(self) -> dict[str, Any]:
        """The same knobs as a Ray Tune ``param_space``."""
        return {knob.name: knob.ray_domain() for knob in self.knobs()}

    def grid(self) -> dict[str, list[Any]]:
        """The grid sampler's space: every choice, ``grid_points`` evenly spaced values of each range."""
        return {knob.name: knob.grid_values() for knob in self.knobs()}

    def used_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` without the knobs that point does not use (inactive entries)."""
        active = {k.name for k in self.knobs() if k.active(params)}
        return {k: v for k, v in params.items() if k in active}

    def complete_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every knob present (inactive entries at a valid value), for Ray's fixed space."""
        return {k.name: params.get(k.name, k.first) for k in self.knobs()}

    def params_of(self, candidate: CandidateConfig) -> dict[str, Any]:
        """The knob values that reproduce ``candidate`` (used to enqueue reference points)."""
        data = candidate.model_dump(mode="json")
        params: dict[str, Any] = {}
        for knob in self.knobs():
            value = get_target(data, knob.target)
            if knob.entry is None:
                params[knob.name] = value
            elif knob.entry < len(value) and knob.depth in (None, candidate.dsl.switch_depth):
                params[knob.name] = value[knob.entry]
        return params

    def columns(self, candidate: CandidateConfig) -> dict[str, Any]:
        """The report's knob columns for ``candidate``: one per declared field (tuples joined with 'x')."""
        data = candidate.model_dump(mode="json")
        columns: dict[str, Any] = {}
        for _, decl in self.knob_declarations():
            value = get_target(data, decl.target)
            title = decl.column or decl.target.rsplit(".", 1)[-1]
            columns[title] = "x".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        return columns

    def reference_point(self) -> dict[str, Any]:
        """The paper-style reference: the base candidate's own DSL (its sweep holds the full-only baseline)."""
        return self.params_of(self.base)
