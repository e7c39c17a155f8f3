"""The search space drives Optuna and Ray Tune to the same CandidateConfig."""

from __future__ import annotations

import re

import optuna
import pytest

from typing import Annotated

from dslnas.spaces.knobs import KnobDecl
from dslnas.spaces.space import FloatRange, SearchSpace
from dslnas.spaces.space_presets import demo_space, load_space


@pytest.mark.parametrize("name", ["demo", "wide", "paper"])
def test_optuna_trial_and_ray_params_yield_the_same_candidate(name: str) -> None:
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    ray_space = space.ray_param_space()
    assert set(ray_space) == set(space.optuna_distributions())
    for _ in range(10):
        trial = study.ask()
        from_optuna = space.suggest(trial)
        # Ray's sample carries every width entry; the unused ones must not matter.
        ray_params = {**{k.name: k.first for k in space.knobs()}, **trial.params}
        assert space.candidate_from_params(ray_params) == from_optuna
        study.tell(trial, 0.0)


def test_sampled_candidates_cover_the_knobs() -> None:
    space = load_space("demo")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = [space.suggest(study.ask()) for _ in range(30)]
    assert {c.dsl.switch_depth for c in seen} == set(space.switch_depths)
    assert all(len(c.dsl.light_widths) == space.base.encoder.n_blocks - c.dsl.switch_depth + 1 for c in seen)
    assert all(space.alpha.low <= c.dsl.alpha <= space.alpha.high for c in seen)
    assert all(c.dsl.threshold == space.base.dsl.threshold for c in seen)  # swept after training, never sampled


def test_the_reference_point_reproduces_the_base_candidate() -> None:
    space = load_space("paper")
    assert space.candidate_from_params(space.reference_point()).dsl == space.base.dsl


def test_threshold_is_not_a_knob() -> None:
    from dslnas.spaces.errors import UserError

    data = {**demo_space().model_dump(mode="json"), "threshold": {"low": 0.0, "high": 1.0}}
    with pytest.raises(Exception, match="threshold is swept"):
        SearchSpace.model_validate(data)
    assert "threshold" not in [k.name for k in demo_space().knobs()]
    assert UserError  # the YAML loader turns the validation error into a UserError naming the file


def test_a_search_refuses_decoder_only_finetuning() -> None:
    data = demo_space().model_dump(mode="json")
    data["finetune"]["trainable"] = "decoder"
    with pytest.raises(Exception, match="finetune.trainable 'decoder' trains no DSL"):
        SearchSpace.model_validate(data)


def test_state_policy_is_a_knob_when_a_space_offers_several() -> None:
    from dslnas.spaces.candidate import StatePolicy

    space = demo_space().model_copy(update={"state_policies": (StatePolicy.WARM, StatePolicy.RESET)})
    assert space.optuna_distributions()["state_policy"].choices == ("warm", "reset")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = {space.suggest(study.ask()).dsl.state_policy for _ in range(12)}
    assert seen == {StatePolicy.WARM, StatePolicy.RESET}


class SpaceWithSegmentFrames(SearchSpace):
    """The module's worked example: one more searched knob is one annotated field."""

    segment_frames: Annotated[tuple[int, ...] | None, KnobDecl("segment_frames", "dsl.segment_frames")] = None


def test_a_knob_declared_once_reaches_every_derived_view() -> None:
    base = demo_space()
    space = SpaceWithSegmentFrames(**{**dict(base), "segment_frames": (5, 10)})
    names = [k.name for k in space.knobs()]
    assert "segment_frames" in names and "segment_frames" not in [k.name for k in base.knobs()]
    assert space.optuna_distributions()["segment_frames"].choices == (5, 10)
    assert space.grid()["segment_frames"] == [5, 10]
    assert "segment_frames" in space.ray_param_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    trial = study.ask()
    candidate = space.suggest(trial)
    assert candidate.dsl.segment_frames == trial.params["segment_frames"]
    assert space.params_of(candidate) == trial.params
    assert space.columns(candidate)["segment_frames"] == candidate.dsl.segment_frames


@pytest.mark.parametrize(("update", "problem"), [
    ({"alpha": FloatRange(low=2.0, high=5.0, log=True)}, "dsl.alpha (0.0001) is outside the space's alpha [2, 5]"),
    ({"light_width_choices": (4, 12)}, "outside the space's light_width_d2_0 [4, 12]"),
])
def test_a_base_outside_its_own_space_is_refused_before_any_trial(update: dict, problem: str) -> None:
    """The reference trial runs the base candidate's own knobs: a range that excludes them is a config error."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        SearchSpace(**{**dict(demo_space()), **update})


def test_inactive_width_entries_are_neither_sampled_nor_required() -> None:
    space = demo_space()
    deepest = max(space.switch_depths)
    params = {**space.params_of(space.base), "switch_depth": deepest}
    used = space.used_params(space.complete_params(params))
    widths = [k for k in used if k.startswith("light_width_")]
    assert len(widths) == space.base.encoder.n_blocks - deepest + 1
    assert space.candidate_from_params(used).dsl.switch_depth == deepest


def test_grid_spans_every_choice_and_the_range_ends() -> None:
    space = demo_space()
    grid = space.grid()
    assert grid["switch_depth"] == list(space.switch_depths)
    assert grid["alpha"] == [space.alpha.low, space.alpha.high]
    assert grid["beta"] == [space.beta.low, space.beta.high]
