"""The search space drives Optuna and Ray Tune to the same CandidateConfig."""

from __future__ import annotations

import optuna
import pytest

from dslnas.spaces.space_presets import load_space


@pytest.mark.parametrize("name", ["demo", "paper"])
def test_optuna_trial_and_ray_params_yield_the_same_candidate(name: str) -> None:
    space = load_space(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    ray_space = space.ray_param_space()
    assert set(ray_space) == set(space.optuna_distributions())
    for _ in range(10):
        trial = study.ask()
        from_optuna = space.suggest(trial)
        # Ray's sample carries every width entry; the unused ones must not matter.
        ray_params = {**{k: space.light_width_choices[-1] for k in ray_space}, **trial.params}
        assert space.candidate_from_params(ray_params) == from_optuna
        study.tell(trial, 0.0)


def test_sampled_candidates_cover_the_knobs() -> None:
    space = load_space("demo")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = [space.suggest(study.ask()) for _ in range(30)]
    assert {c.dsl.switch_depth for c in seen} == set(space.switch_depths)
    assert all(len(c.dsl.light_widths) == space.base.encoder.n_blocks - c.dsl.switch_depth + 1 for c in seen)
    assert all(space.alpha.low <= c.dsl.alpha <= space.alpha.high for c in seen)
    assert all(space.threshold.low <= c.dsl.threshold <= space.threshold.high for c in seen)


def test_reference_points_reproduce_the_base_candidate_and_a_full_only_baseline() -> None:
    space = load_space("paper")
    refs = space.reference_points()
    assert space.candidate_from_params(refs["reference"]).dsl == space.base.dsl
    assert space.candidate_from_params(refs["baseline"]).dsl.threshold == 0.0
