"""The demo and wide spaces' knobs: conditional width knobs per depth and layer on both backends, and the light
tail's residual units and kernel built, initialised, streamed and exported as sampled."""

from __future__ import annotations

import random

import optuna
import pytest
import torch

from dslnas.spaces.space_presets import demo_space, wide_space
from dslnas.spaces.yaml_io import dump_model, load_model

torch.set_num_threads(1)


def _width_knobs(params: dict) -> set[str]:
    return {k for k in params if k.startswith("light_width_")}


@pytest.mark.parametrize("make", [demo_space, wide_space], ids=["demo", "wide"])
def test_optuna_samples_only_the_width_knobs_of_the_sampled_depth(make) -> None:
    space = make()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    depths = set()
    for _ in range(20):
        trial = study.ask()
        candidate = space.suggest(trial)
        depth = candidate.dsl.switch_depth
        depths.add(depth)
        expected = {f"light_width_d{depth}_{i}" for i in range(space.base.encoder.n_blocks - depth + 1)}
        assert _width_knobs(trial.params) == expected
        assert candidate.dsl.light_widths == tuple(trial.params[f"light_width_d{depth}_{i}"] for i in range(len(expected)))
        study.tell(trial, 0.0)
    assert depths == set(space.switch_depths)


@pytest.mark.parametrize("make", [demo_space, wide_space], ids=["demo", "wide"])
def test_ray_samples_every_knob_and_the_inactive_ones_change_nothing(make) -> None:
    space = make()
    param_space = space.ray_param_space()
    assert set(param_space) == {k.name for k in space.knobs()}
    rng = random.Random(0)
    for _ in range(10):
        sample = {name: domain.sample() for name, domain in param_space.items()}
        depth = sample["switch_depth"]
        used = space.used_params(sample)
        assert {k for k in _width_knobs(used)} == {k for k in _width_knobs(sample) if k.startswith(f"light_width_d{depth}_")}
        shuffled = {**sample, **{k: rng.choice(space.light_width_choices[:1]) for k in _width_knobs(sample) if k not in used}}
        assert space.candidate_from_params(sample) == space.candidate_from_params(shuffled) == space.candidate_from_params(used)


def test_each_layer_offers_only_the_widths_it_admits() -> None:
    space = wide_space()
    knobs = {k.name: k for k in space.knobs()}
    assert knobs["light_width_d1_0"].choices == (2, 4, 6, 8, 12, 16)            # after block 0: 16 channels
    assert knobs["light_width_d2_1"].choices == space.light_width_choices        # after block 2: 32 channels
    assert knobs["light_width_d3_0"].choices == space.light_width_choices


def test_the_wide_space_samples_candidates_the_trainer_builds_as_sampled() -> None:
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.blocks import ResidualUnit
    from dslnas.trainers.light_init import slice_light_tail

    space = wide_space()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    seen = set()
    for _ in range(6):
        candidate = space.suggest(study.ask())
        dsl = candidate.dsl
        seen.add((dsl.light_residual_units, dsl.light_kernel))
        encoder = build_codec(candidate).encoder.eval()
        slice_light_tail(encoder)
        units = [m for m in encoder.light_tail.modules() if isinstance(m, ResidualUnit)]
        assert len(units) == dsl.light_residual_units * (candidate.encoder.n_blocks - dsl.switch_depth)
        assert all(u.conv.kernel_size == (dsl.light_kernel,) for u in units)
        assert encoder.switch.embed.out_channels == dsl.switch_hidden
        with torch.no_grad():
            out = encoder(0.1 * torch.randn(1, 1, 2 * candidate.segment_samples))
        assert out.light.shape == out.full.shape and torch.isfinite(out.light).all()
    assert len(seen) > 1


@pytest.mark.parametrize(("units", "kernel"), [(0, 3), (1, 3), (1, 7)])
def test_a_reshaped_light_tail_streams_as_it_runs_offline(units: int, kernel: int) -> None:
    from dslnas.spaces.presets import demo_candidate
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.streaming import Route, StreamingEncoder

    candidate = demo_candidate().with_dsl(switch_depth=1, light_widths=(8, 8, 12), light_residual_units=units, light_kernel=kernel)
    torch.manual_seed(0)
    encoder = build_codec(candidate).encoder.eval()
    audio = 0.3 * torch.randn(1, 1, 4 * candidate.segment_samples)
    with torch.no_grad():
        offline = encoder(audio)
    stream = StreamingEncoder(encoder)
    light = stream.run(stream.stream_base(audio), Route.LIGHT)
    assert (light.embedding - offline.light).abs().max() <= 1e-5


def test_a_shorter_light_kernel_starts_from_the_full_kernels_latest_taps() -> None:
    from dslnas.spaces.presets import demo_candidate
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.light_init import slice_light_tail

    full_width = demo_candidate().with_dsl(switch_depth=2, light_widths=(24, 32), light_residual_units=1, light_kernel=3)
    encoder = build_codec(full_width).encoder
    slice_light_tail(encoder)
    light_conv, full_conv = encoder.light_tail[0][0].conv, encoder.full_tail[0][0].conv
    assert light_conv.kernel_size == (3,) and full_conv.kernel_size == (5,)
    assert torch.equal(light_conv.weight, full_conv.weight[..., 2:])


def test_the_light_tail_knobs_round_trip_through_yaml_and_bound_the_units(tmp_path) -> None:
    from dslnas.spaces.candidate import CandidateConfig

    candidate = wide_space().base.with_dsl(light_residual_units=0, light_kernel=7)
    dump_model(candidate, tmp_path / "c.yaml")
    assert load_model(CandidateConfig, tmp_path / "c.yaml") == candidate
    with pytest.raises(ValueError, match="light_residual_units is 3, more than the encoder's 2 residual_dilations"):
        candidate.with_dsl(light_residual_units=3)
