"""Named search spaces (``demo``, ``wide``, ``paper``) and loading a space from YAML.

A space YAML is a :class:`SearchSpace` mapping; ``extends: other.yaml`` and ``base: <preset name>``
keep ablations short, e.g.::

    extends: demo-space.yaml
    switch_depths: [3, 4]
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dslnas.spaces.candidate import StatePolicy
from dslnas.spaces.run_config import DataConfig, DatasetKind, TrainConfig
from dslnas.spaces.errors import unknown_name
from dslnas.spaces.presets import candidate_preset, demo_candidate, paper_candidate
from dslnas.spaces.space import Constraints, FloatRange, Objective, SearchSpace
from dslnas.spaces.yaml_io import read_yaml_mapping, validate

ALPHA_LOW, ALPHA_HIGH = 1e-4, 10.0
"""The compression weight's range: against the fine-tune's relative embedding loss, a mask trained 150 steps
on the speech16k base at depth 2 zeroes ~0% of the map at alpha 1, 20% at 2, 43% at 3, 62% at 5 and 79% at
10 (the threshold starts at 0 and Adam moves it about the learning rate a step). Below about 0.5 alpha
buys nothing, so the low end is the candidates' default (1e-4, which base training also uses); above 10
the map is mostly zeros."""


# Latency budgets of the shipped spaces, set around their candidates' prices on the default profile
# (search.config.DEFAULT_PROFILE, a32-emulated): the demo base's full pass 21.5 ms, light passes 16.2-18.7 ms
# over the space (paper preset: 48.9 ms, 36.9-39.3 ms). A search on another profile (--profile a32-paper: 6.3 ms
# and 14.7 ms full) needs a space YAML with its own budgets; tests/test_default_profile.py checks these fit.
DEMO_BUDGETS_MS = (17.0, 19.0, 21.0)
PAPER_BUDGETS_MS = (40.0, 44.0, 48.0)


def _demo_data() -> DataConfig:
    return DataConfig(kind=DatasetKind.SYNTH, synth_minutes=2.0, seed=1, eval_fraction=0.3, eval_clip_seconds=2.0)


def demo_space() -> SearchSpace:
    """What ``dslnas search`` runs with no arguments: DSLs inserted into the shipped ``speech16k`` base and
    trained DSL-only on a small corpus spoken here (made once and cached: ``data.kind: synth``).

    Knobs: switch depth 1-3, a light width per depth and layer (4-16, what the shipped light-tail bank
    serves, so every trial starts from it), the switch head's width, alpha and beta: 84 width
    configurations x 3 heads x two continuous weights, more than a demo's few candidates cover."""
    data = _demo_data()
    return SearchSpace(
        name="demo",
        base=demo_candidate(),
        pretrained_base="pretrained:speech16k",
        switch_depths=(1, 2, 3),
        light_width_choices=(4, 8, 12, 16),
        widths_per_depth=True,
        switch_hidden=(4, 8, 16),
        alpha=FloatRange(low=ALPHA_LOW, high=ALPHA_HIGH, log=True),
        beta=FloatRange(low=0.1, high=3.0, log=True),
        base_train=TrainConfig(steps=800, batch_size=8, crop_seconds=0.5, data=data),  # only without a pretrained base
        finetune=TrainConfig(steps=150, batch_size=8, crop_seconds=0.32, data=data, learning_rate=3e-3),
        objectives=(Objective.VISQOL, Objective.LATENCY_MS),
        constraints=Constraints(max_visqol_drop=0.5),
        latency_budgets_ms=DEMO_BUDGETS_MS,
    )


def wide_space() -> SearchSpace:
    """For real searches on the ``speech16k`` base: every DSL knob the trainer honours. Light widths per
    depth and layer up to the full path's (2-32), the light tail's residual units (0-2) and kernel (3, 5,
    7), the switch head's width, the state policy, alpha and beta; a 400-step fine-tune. A light tail
    wider than 16 or shaped unlike the full tail has no bank prefix and starts sliced (``train.light_init``)."""
    base = demo_candidate().with_dsl(light_residual_units=2, light_kernel=5)  # explicit: the knobs' reference
    data = _demo_data()
    return SearchSpace(
        name="wide",
        base=base.model_copy(update={"name": "wide"}),
        pretrained_base="pretrained:speech16k",
        switch_depths=(1, 2, 3),
        light_width_choices=(2, 4, 6, 8, 12, 16, 24, 32),
        widths_per_depth=True,
        alpha=FloatRange(low=ALPHA_LOW, high=ALPHA_HIGH, log=True),
        beta=FloatRange(low=0.1, high=3.0, log=True),
        state_policies=(StatePolicy.WARM, StatePolicy.RESET, StatePolicy.STALE),
        switch_hidden=(4, 8, 16, 32),
        light_residual_units=(0, 1, 2),
        light_kernels=(3, 5, 7),
        base_train=TrainConfig(steps=800, batch_size=8, crop_seconds=0.5, data=data),
        finetune=TrainConfig(steps=400, batch_size=8, crop_seconds=0.32, data=data, learning_rate=3e-3),
        objectives=(Objective.VISQOL, Objective.LATENCY_MS),
        constraints=Constraints(max_visqol_drop=0.5),
        latency_budgets_ms=DEMO_BUDGETS_MS,
    )


def paper_space() -> SearchSpace:
    """The paper's lean encoder (``paper`` preset); budgets around its price on the default profile."""
    data = DataConfig(demo_clips=64, demo_clip_seconds=3.0)
    return SearchSpace(
        name="paper",
        base=paper_candidate(),
        switch_depths=(2, 3, 4),
        light_width_choices=(4, 6, 9, 10, 12, 16),
        alpha=FloatRange(low=ALPHA_LOW, high=ALPHA_HIGH, log=True),
        beta=FloatRange(low=0.1, high=3.0, log=True),
        base_train=TrainConfig(steps=3000, batch_size=16, data=data),
        finetune=TrainConfig(steps=400, batch_size=16, data=data, learning_rate=1e-3),
        objectives=(Objective.VISQOL, Objective.LATENCY_MS, Objective.POWER_MW),
        constraints=Constraints(max_visqol_drop=0.2),
        latency_budgets_ms=PAPER_BUDGETS_MS,
    )


SPACE_PRESETS: dict[str, Callable[[], SearchSpace]] = {"demo": demo_space, "wide": wide_space, "paper": paper_space}


def load_space(name_or_path: str) -> SearchSpace:
    """A preset by name, or a YAML file (validated; errors name the file and key)."""
    if name_or_path in SPACE_PRESETS:
        return SPACE_PRESETS[name_or_path]()
    path = Path(name_or_path)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        raise unknown_name("search space", name_or_path, list(SPACE_PRESETS))
    data: dict[str, Any] = read_yaml_mapping(path)
    if isinstance(data.get("base"), str):
        data["base"] = candidate_preset(data["base"]).model_dump(mode="json")
    return validate(SearchSpace, data, str(path))
