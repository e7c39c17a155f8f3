"""The routed C export split at the DSL across an emulated Cortex-M33 and Cortex-A32 (``unicorn-pair``), and its price.

Routes and embeddings as PyTorch's (warm policy, switch-backs included), link bytes falling as the mask's
sparsity rises, the A32 woken only for full segments, and the pair profile pricing link bytes and wake-ups
through the one price (``ProfileCostModel.predict_counts``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_c_export import mixed_threshold, offline, routed_reference, segment_audio
from test_emulated_arm import TINY

from dslnas.hw_models.c_export import PATH_FULL, PATH_LIGHT, export_c
from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler
from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import RoutingSummary
from dslnas.hw_models.placement import measure_mask_sparsity
from dslnas.hw_models.runners.pair import PairRunner
from dslnas.hw_models.runners.pair_stream import PairStream
from dslnas.search.confirm import measured_routing
from dslnas.trainers.codec import build_codec

ATOL = 1e-4
LATENCY_TOLERANCE = 0.05
needs_arm = pytest.mark.skipif(missing_compiler(ARM_CC) is not None, reason=f"needs {missing_compiler(ARM_CC)}")


def _encoder(mask_threshold: float = 0.0):
    torch.manual_seed(0)
    encoder = build_codec(TINY).encoder.eval()
    with torch.no_grad():
        encoder.mask.threshold.fill_(mask_threshold)
    return encoder


def _routed(encoder, tmp_path, segments):
    ref = offline(encoder, segments)
    info = export_c(encoder, None, tmp_path, mixed_threshold(ref["predicted"]), state_policy="warm")
    return ref, info, PairRunner().run_routed(info, segments)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """The tiny encoder routed on the pair over 6 segments: (encoder, segments, offline reference, export, run)."""
    if missing_compiler(ARM_CC) is not None:
        pytest.skip(f"needs {missing_compiler(ARM_CC)}")
    encoder, segments = _encoder(), segment_audio(TINY, 6)
    return (encoder, segments, *_routed(encoder, tmp_path_factory.mktemp("pair"), segments))


def test_pair_routes_and_embeds_as_pytorch_and_wakes_only_for_full_segments(tiny_run):
    encoder, segments, ref, info, run = tiny_run
    paths = np.array(run.paths)
    np.testing.assert_array_equal(paths, np.where(ref["predicted"] < info.threshold, PATH_LIGHT, PATH_FULL))
    assert PATH_LIGHT in paths and PATH_FULL in paths
    stream = PairStream(info)
    for seg, want in zip(segments, routed_reference(encoder, ref, paths, "warm")):
        assert float(np.abs(stream.segment(seg.reshape(-1)).output - want).max()) <= ATOL
    parts, extra = run.extra["instructions_per_part"], run.extra
    full = paths == PATH_FULL
    assert extra["wakeups"] == int(full.sum())
    for name in ("encode", "decode", "full"):
        assert all((np.array(parts[name]) > 0) == full), name
    assert all((np.array(parts["light"]) > 0) == ~full)
    assert all((np.array(extra["link_bytes_to_full_core"]) > 0) == full)
    assert min(parts["front"]) > 0
    cycles = extra["cycles_per_part"]  # each part timed in cycles on its core's model, instructions beside
    for name, counted in parts.items():
        assert [c > 0 for c in cycles[name]] == [n > 0 for n in counted], name
    assert sum(cycles["full"]) > sum(parts["full"])  # the R52 model's FP chains: CPI above 1 on the A32
    assert run.latency_ms[0] == pytest.approx(sum(cycles[p][0] for p in ("front", "light", "encode")) / 160e3
                                              + sum(cycles[p][0] for p in ("decode", "full")) / 1200e3
                                              + (0.1 + 0.004) * (paths[0] == PATH_FULL))


@needs_arm
def test_the_pair_profile_predicts_a_measured_routed_run(tmp_path):
    """What ``dslnas confirm --runner unicorn-pair --profile a32-m33-pair`` compares, on a candidate the profile
    was not calibrated on: the demo preset (held out of the demo pair suite the shipped profile is fitted on;
    fresh weights, 4 segments), priced under the run's measured routing against the run."""
    from dslnas.spaces.presets import candidate_preset

    torch.manual_seed(0)
    encoder, segments = build_codec(candidate_preset("demo")).encoder.eval(), segment_audio(candidate_preset("demo"), 4)
    _, _, run = _routed(encoder, tmp_path, segments)
    sparsity = measure_mask_sparsity(encoder, torch.from_numpy(segments.reshape(1, 1, -1)))
    counts = count_candidate(encoder)
    cost = ProfileCostModel(load_profile("a32-m33-pair")).predict_counts(counts, measured_routing(run, encoder, sparsity))
    print(f"\npair demo point: measured {run.mean_ms:.4f} ms, predicted {cost.latency_ms.mixed:.4f} ms; energy "
          f"{run.extra['energy_uj_per_segment_mean']:.3f} / {cost.energy_per_inference_uj.mixed:.3f} uJ; link bytes "
          f"{run.extra['link_bytes_per_segment_mean']:.1f} / {cost.link_bytes_per_s / counts.inferences_per_s:.1f}")
    assert 0 < run.light_usage < 1
    assert cost.latency_ms.mixed == pytest.approx(run.mean_ms, rel=LATENCY_TOLERANCE)
    assert cost.energy_per_inference_uj.mixed == pytest.approx(run.extra["energy_uj_per_segment_mean"], rel=0.05)
    assert cost.link_bytes_per_s / counts.inferences_per_s == pytest.approx(run.extra["link_bytes_per_segment_mean"],
                                                                            rel=0.05)
    assert cost.wakeups_per_s / counts.inferences_per_s == pytest.approx(run.extra["wakeups"] / len(run.paths))


@needs_arm
def test_link_bytes_fall_when_the_mask_is_sparser(tmp_path):
    segments = segment_audio(TINY, 6)
    sent = {}
    for threshold in (0.0, 0.3):
        _, _, run = _routed(_encoder(threshold), tmp_path / f"t{threshold}", segments)
        sent[threshold] = [b for b, p in zip(run.extra["link_bytes_to_full_core"], run.paths) if p == PATH_FULL]
    assert np.mean(sent[0.3]) < np.mean(sent[0.0])


def test_pair_profile_prices_link_bytes_from_sparsity_and_wakeups_per_full_segment():
    profile = load_profile("a32-m33-pair")
    assert profile.placement is not None and profile.units[profile.placement.full].wake_ms > 0
    model, counts = ProfileCostModel(profile), count_candidate(TINY)
    dense, sparse = (model.predict_counts(counts, RoutingSummary(0.3, s)) for s in (0.0, 0.9))
    assert sparse.link_bytes_per_s < dense.link_bytes_per_s
    assert sparse.energy_per_inference_uj.mixed < dense.energy_per_inference_uj.mixed
    assert dense.wakeups_per_s == pytest.approx(0.7 * counts.inferences_per_s)
    assert dense.placement == "front@m33,light@m33,full@a32"
    all_light = model.predict_counts(counts, RoutingSummary(1.0, 0.0))
    assert all_light.wakeups_per_s == 0 and all_light.link_bytes_per_s == 0


@pytest.mark.slow  # ~40 s of CPU: the demo study's candidate on the M33 (full, light) and the pair
@needs_arm
def test_confirm_on_the_pair_reports_each_part_the_link_and_the_energy(tmp_path):
    """``confirm_candidates`` with the pair runner and profile: full / light on the M33 alone, and the routed run
    with its parts, link bytes and wake-ups beside the prediction at the profile's pinned placement."""
    from study_fixtures import build_demo_study

    from dslnas.search.confirm import ConfirmSettings, confirm_candidates
    from dslnas.search.pareto import compute_pareto_front

    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    point = min(compute_pareto_front(study).pareto, key=lambda p: p.record.cost.latency_ms.full)
    settings = ConfirmSettings(tmp_path / "work", profile="a32-m33-pair", mixed_clips=1, mixed_clip_seconds=0.25)
    full, light, mixed = confirm_candidates(study, [point], PairRunner(segments=1), settings)[point.number]
    assert full.ok and light.ok and full.measured_latency_ms > light.measured_latency_ms
    assert mixed.ok, mixed.failure
    extra = mixed.extra
    assert extra["predicted_placement"] == "front@m33,light@m33,full@a32"
    assert set(extra["instructions_per_part"]) == {"front", "light", "encode", "decode", "full"}
    assert extra["wakeups"] == len(extra["link_bytes_to_full_core"]) - extra["light_segments"]
    assert mixed.measured_energy_uj is not None and mixed.energy_error_pct is not None
    print(f"\nconfirm on the pair: latency error {mixed.error_pct:+.1f}%, energy error {mixed.energy_error_pct:+.1f}%, "
          f"link bytes {extra['link_bytes_per_segment_mean']:.0f} measured / "
          f"{extra['predicted_link_bytes_per_segment']:.0f} predicted per segment")


def test_a_pinned_placement_must_name_the_profiles_units():
    from dslnas.spaces.errors import ConfigError

    data = load_profile("a32-m33-pair").model_dump()
    data["placement"]["full"] = "a55"
    with pytest.raises((ConfigError, ValueError), match="placement names unit 'a55'"):
        type(load_profile("a32-m33-pair")).model_validate(data)


def test_the_demo_pair_suite_draws_the_pair_demo_spaces_sizes_and_holds_out_the_demo_preset():
    """``--suite demo``: distinct, seeded candidates of the pair demo space (its base, depths, light widths,
    switch heads) and around it; the demo preset (the knee's architecture) is held out, never drawn; ``tiny``
    is still the tiny calibration suite the tests and the quick fit use."""
    from dslnas.hw_models.calibration_suite import TINY_RANGES, calibration_suite
    from dslnas.hw_models.pair_suite import DEMO_SPACE_DRAWS, PAIR_DEMO_SPACE, PairSuite, _architecture
    from dslnas.spaces.space_presets import load_space

    space, suite = load_space(str(PAIR_DEMO_SPACE)), PairSuite.DEMO.candidates()
    assert [c.name for c in suite] == [c.name for c in PairSuite.DEMO.candidates()]  # seeded
    assert len({_architecture(c) for c in suite}) == len(suite)
    held_out = {_architecture(c) for c in PairSuite.DEMO.held_out()}
    assert not held_out & {_architecture(c) for c in suite}
    drawn = suite[:DEMO_SPACE_DRAWS]
    assert all(c.encoder == space.base.encoder for c in drawn)
    assert {c.dsl.switch_depth for c in drawn} == set(space.switch_depths)
    assert {w for c in drawn for w in c.dsl.light_widths} <= set(space.light_width_choices)
    assert {c.dsl.switch_hidden for c in drawn} <= set(space.switch_hidden)
    around = suite[DEMO_SPACE_DRAWS:]
    widths = [w for c in around for w in c.encoder.block_channels]  # neighbours straddling the demo's 16-32
    assert min(widths) <= 16 and max(widths) >= 32 and all(c.encoder != space.base.encoder for c in around)
    assert PairSuite.TINY.candidates() == calibration_suite(16, 0, TINY_RANGES)


def test_the_skip_fit_cuts_each_tail_by_the_zeros_of_the_segments_routed_to_it():
    """``pair_suite.tail_sparsity``: the mask's zeros on the light (quiet) segments and on the full (loud) ones,
    which together make the run's share; a tail no segment took gets the run's share."""
    from dslnas.hw_models.counts import Part
    from dslnas.hw_models.pair_suite import _GAINS, noise, tail_sparsity

    encoder, audio = _encoder(0.2), noise(TINY)
    routes = tuple(g < 0.1 for g in _GAINS)
    shares = tail_sparsity(encoder, audio, routes)
    overall = measure_mask_sparsity(encoder, torch.from_numpy(audio.reshape(1, 1, -1)))
    light = sum(routes) / len(routes)
    assert light * shares[Part.LIGHT_TAIL] + (1 - light) * shares[Part.FULL_TAIL] == pytest.approx(overall, abs=1e-6)
    assert shares[Part.LIGHT_TAIL] > shares[Part.FULL_TAIL]
    assert tail_sparsity(encoder, audio, (False,) * len(routes))[Part.LIGHT_TAIL] == pytest.approx(overall, abs=1e-6)
