"""The search space: which DSL knobs a study varies, and what it optimises.

Knobs: switch depth, light-path widths (one per light-tail entry), compression weight alpha (log
scale), beta (log scale) and the routing threshold tau. Fixed parts: the base candidate (architecture,
quantizer, decoder) and the training budgets (the base codec once per study, then a fine-tune per trial).

The same space drives an Optuna trial (:meth:`SearchSpace.suggest`) and Ray Tune
(:meth:`SearchSpace.ray_param_space` / :meth:`SearchSpace.optuna_distributions`); both yield their
``CandidateConfig`` through :meth:`SearchSpace.candidate_from_params`, so a point is the same object
whichever backend sampled it.
"""

from __future__ import annotations

import enum
from typing import Any

import optuna
from pydantic import Field, field_validator, model_validator

from dslnas.spaces.candidate import CandidateConfig, Frozen, PosInt, TrainConfig


class Objective(str, enum.Enum):
    """What a study optimises; the direction is fixed by the objective."""

    VISQOL = "visqol"          # ViSQOL MOS-LQO of the mixed pass, maximise
    LATENCY_MS = "latency_ms"  # predicted mixed-pass latency at the measured light usage, minimise
    POWER_MW = "power_mw"      # predicted mixed-pass power at the measured light usage, minimise

    @property
    def direction(self) -> optuna.study.StudyDirection:
        if self is Objective.VISQOL:
            return optuna.study.StudyDirection.MAXIMIZE
        return optuna.study.StudyDirection.MINIMIZE


class FloatRange(Frozen):
    low: float
    high: float
    log: bool = False

    @model_validator(mode="after")
    def _check(self) -> "FloatRange":
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale range needs low > 0, got {self.low}")
        return self


class Constraints(Frozen):
    """Feasibility limits (Optuna constraints: a trial breaking any is infeasible). None = no limit."""

    min_visqol: float | None = None
    max_visqol_drop: float | None = Field(default=None, ge=0.0)  # mixed vs full-only of the same trial
    max_latency_ms: float | None = Field(default=None, gt=0.0)
    max_power_mw: float | None = Field(default=None, gt=0.0)


class SearchSpace(Frozen):
    name: str = "custom"
    base: CandidateConfig = CandidateConfig()
    switch_depths: tuple[PosInt, ...]
    light_width_choices: tuple[PosInt, ...]
    alpha: FloatRange
    beta: FloatRange
    threshold: FloatRange
    sweep_thresholds: tuple[float, ...] = ()
    base_train: TrainConfig = TrainConfig()
    finetune: TrainConfig = TrainConfig(steps=60)
    objectives: tuple[Objective, ...] = (Objective.VISQOL, Objective.LATENCY_MS)
    constraints: Constraints = Constraints()
    latency_budgets_ms: tuple[float, ...] = ()

    @field_validator("switch_depths", "light_width_choices", "objectives")
    @classmethod
    def _non_empty(cls, value: tuple) -> tuple:
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
        return self

    @property
    def max_light_entries(self) -> int:
        return self.base.encoder.n_blocks - min(self.switch_depths) + 1

    def candidate_from_params(self, params: dict[str, Any]) -> CandidateConfig:
        """The candidate for one point (keys: switch_depth, light_width_<i>, alpha, beta, threshold)."""
        depth = int(params["switch_depth"])
        entries = self.base.encoder.n_blocks - depth + 1
        widths = tuple(int(params[f"light_width_{i}"]) for i in range(entries))
        return self.base.with_dsl(
            switch_depth=depth,
            light_widths=widths,
            alpha=float(params["alpha"]),
            beta=float(params["beta"]),
            threshold=float(params["threshold"]),
        ).model_copy(update={"name": f"{self.name}-d{depth}-w{'x'.join(map(str, widths))}"})

    def suggest(self, trial: optuna.trial.BaseTrial) -> CandidateConfig:
        """Sample a candidate on an Optuna trial (define-by-run: only the widths the depth needs)."""
        depth = trial.suggest_categorical("switch_depth", list(self.switch_depths))
        params: dict[str, Any] = {"switch_depth": depth}
        for i in range(self.base.encoder.n_blocks - depth + 1):
            params[f"light_width_{i}"] = trial.suggest_categorical(f"light_width_{i}", list(self.light_width_choices))
        params["alpha"] = trial.suggest_float("alpha", self.alpha.low, self.alpha.high, log=self.alpha.log)
        params["beta"] = trial.suggest_float("beta", self.beta.low, self.beta.high, log=self.beta.log)
        params["threshold"] = trial.suggest_float("threshold", self.threshold.low, self.threshold.high, log=self.threshold.log)
        return self.candidate_from_params(params)

    def optuna_distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """All knobs as Optuna distributions (every width entry present), e.g. for Ray's OptunaSearch."""
        dists: dict[str, optuna.distributions.BaseDistribution] = {
            "switch_depth": optuna.distributions.CategoricalDistribution(list(self.switch_depths)),
        }
        for i in range(self.max_light_entries):
            dists[f"light_width_{i}"] = optuna.distributions.CategoricalDistribution(list(self.light_width_choices))
        for knob in ("alpha", "beta", "threshold"):
            rng: FloatRange = getattr(self, knob)
            dists[knob] = optuna.distributions.FloatDistribution(rng.low, rng.high, log=rng.log)
        return dists

    def ray_param_space(self) -> dict[str, Any]:
        """The same knobs as a Ray Tune ``param_space``."""
        from ray import tune

        space: dict[str, Any] = {"switch_depth": tune.choice(list(self.switch_depths))}
        for i in range(self.max_light_entries):
            space[f"light_width_{i}"] = tune.choice(list(self.light_width_choices))
        for knob in ("alpha", "beta", "threshold"):
            rng: FloatRange = getattr(self, knob)
            space[knob] = tune.loguniform(rng.low, rng.high) if rng.log else tune.uniform(rng.low, rng.high)
        return space

    def params_of(self, candidate: CandidateConfig) -> dict[str, Any]:
        """The knob values that reproduce ``candidate`` (used to enqueue reference points)."""
        dsl = candidate.dsl
        params: dict[str, Any] = {"switch_depth": dsl.switch_depth, "alpha": dsl.alpha, "beta": dsl.beta, "threshold": dsl.threshold}
        params.update({f"light_width_{i}": w for i, w in enumerate(dsl.light_widths)})
        return params

    def reference_points(self) -> dict[str, dict[str, Any]]:
        """The paper-style reference (the base candidate's own DSL) and the full-only baseline (tau = 0)."""
        reference = self.params_of(self.base)
        return {"reference": reference, "baseline": {**reference, "threshold": 0.0}}
