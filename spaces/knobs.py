"""The knob table: each searched knob declared once, everything else derived from it.

A :class:`SearchSpace` field annotated with a :class:`KnobDecl` is a searched knob: the declaration says
what the knob is called in Optuna / Ray and where its value lands in the ``CandidateConfig`` (a dotted
``target`` such as ``dsl.alpha``); the field's value says its range (``FloatRange``, ``IntRange``) or its
choices (a tuple). :func:`knob_table` expands the declarations of a space into concrete :class:`Knob` rows,
and from those rows come the Optuna distributions and suggestions, Ray Tune's ``param_space``, the grid,
params <-> candidate, and the report's columns. A field whose value is ``None`` is not searched: the
base candidate's value is used.

A ``per_entry`` declaration (the light widths) is one knob per entry of a tuple field, ``<name>_<i>``; an
entry is *active* only when the candidate needs it (``light_widths`` has ``n_blocks - switch_depth + 1``
entries), so define-by-run samplers never see a width the sampled depth does not use. With the space's
``widths_per_depth`` the entries are per depth and layer, ``<name>_d<depth>_<i>``, active only at their
switch depth, each offering the choices its layer admits (no wider than the full path there): entry 0 at
depth 1 and at depth 2 are different layers, so a model of the front learns each layer's width apart.
Ray Tune's fixed ``param_space`` holds every knob; a sample's inactive ones are dropped
(``SearchSpace.used_params``) before the candidate is built and before the record is stored.

Nothing here imports Optuna or Ray at module level: they are imported by the functions that need them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna


class KnobKind(str, enum.Enum):
    INT = "int"
    FLOAT = "float"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class KnobDecl:
    """Annotation on a SearchSpace field: the knob's name and where it lands in the candidate.

    ``grid_points``: how many evenly spaced values a range contributes to the grid sampler (2: the ends).
    ``column``: the report column's title (default: the target's last part).
    """

    name: str
    target: str
    per_entry: bool = False
    grid_points: int = 2
    column: str | None = None


@dataclass(frozen=True)
class Knob:
    """One concrete searched parameter. ``choices`` for categorical knobs, ``low``/``high``/``log`` otherwise.

    ``entry``: the index into a tuple target (per-entry knobs), else None; ``depth``: the switch depth a
    per-depth entry belongs to, else None. ``active(params)``: whether the knob applies given the values
    sampled so far (always True except for per-entry knobs: an entry the depth has, of that depth).
    """

    name: str
    kind: KnobKind
    target: str
    choices: tuple[Any, ...] = ()
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    entry: int | None = None
    depth: int | None = None
    grid_points: int = 2
    active: Callable[[Mapping[str, Any]], bool] = lambda params: True

    def admits(self, value: Any) -> bool:
        """Whether ``value`` lies in this knob's choices or range (what optuna would accept)."""
        if self.kind is KnobKind.CATEGORICAL:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def distribution(self) -> "optuna.distributions.BaseDistribution":
        import optuna

        if self.kind is KnobKind.CATEGORICAL:
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if self.kind is KnobKind.INT:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log)

    def suggest(self, trial: "optuna.trial.BaseTrial") -> Any:
        if self.kind is KnobKind.CATEGORICAL:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind is KnobKind.INT:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def ray_domain(self) -> Any:
        from ray import tune

        if self.kind is KnobKind.CATEGORICAL:
            return tune.choice(list(self.choices))
        if self.kind is KnobKind.INT:
            return tune.lograndint(int(self.low), int(self.high) + 1) if self.log else tune.randint(int(self.low), int(self.high) + 1)
        return tune.loguniform(self.low, self.high) if self.log else tune.uniform(self.low, self.high)

    def grid_values(self) -> list[Any]:
        if self.kind is KnobKind.CATEGORICAL:
            return list(self.choices)
        n = max(self.grid_points, 2)
        values = [self.low + (self.high - self.low) * i / (n - 1) for i in range(n)]
        return sorted({int(round(v)) for v in values}) if self.kind is KnobKind.INT else values

    @property
    def first(self) -> Any:
        """A valid value of the knob (fills an inactive entry where a backend needs every key)."""
        return self.choices[0] if self.kind is KnobKind.CATEGORICAL else self.low


def get_target(data: Mapping[str, Any], target: str) -> Any:
    """The value at a dotted path of a nested mapping (``dsl.alpha``)."""
    node: Any = data
    for part in target.split("."):
        node = node[part]
    return node


def set_target(data: dict[str, Any], target: str, value: Any) -> None:
    """Set the value at a dotted path of a nested dict (created on the way)."""
    *parents, leaf = target.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
