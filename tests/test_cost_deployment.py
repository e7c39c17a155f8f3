"""What the DSL changes is priced: sparsity where the device skips zeros, warm replays, memory, real time."""

from __future__ import annotations


import pytest

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.search.points import constraint_values, warmup_share
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.space import Constraints
from study_fixtures import make_record, tiny_candidate

PAPER = candidate_preset("paper")


def _skipping(profile: DeviceProfile) -> DeviceProfile:
    unit = profile.unit(profile.default_unit).model_copy(update={"skips_zero_inputs": True})
    return profile.model_copy(update={"units": {**profile.units, profile.default_unit: unit}})


def test_alpha_buys_latency_only_where_the_runtime_skips_zeros() -> None:
    profile = load_profile("a32-paper")
    dense, sparse = ProfileCostModel(profile), ProfileCostModel(_skipping(profile))
    assert dense.predict(PAPER, 0.5, 0.6).latency_ms == dense.predict(PAPER, 0.5, 0.0).latency_ms
    assert "buys nothing" in dense.predict(PAPER, 0.5, 0.6).to_json()["alpha"]
    cheaper, baseline = sparse.predict(PAPER, 0.5, 0.6), sparse.predict(PAPER, 0.5, 0.0)
    assert cheaper.latency_ms.full < baseline.latency_ms.full and cheaper.latency_ms.light < baseline.latency_ms.light
    assert cheaper.power_mw.mixed < baseline.power_mw.mixed and cheaper.sparsity_priced
    assert cheaper.path_latency_ms["base"] == baseline.path_latency_ms["base"]  # only the tails' first convs


def test_warm_replays_cost_full_tail_work_per_switch_back() -> None:
    cost = ProfileCostModel(load_profile("a32-paper")).predict(PAPER, 0.5).summary()
    share = warmup_share(PAPER, warmup_frames_per_s=200.0)
    routed = cost.routed(0.5, share)
    assert routed.latency_ms.mixed == pytest.approx(cost.latency_ms.mixed + share * cost.path_latency_ms["full"])
    assert routed.power_mw.mixed > cost.power_mw.mixed
    assert cost.routed(0.5, 0.0).latency_ms == cost.latency_ms


def test_memory_and_real_time_factor_of_the_deployed_encoder() -> None:
    cost = ProfileCostModel(load_profile("a32-paper")).predict(PAPER, 0.3)
    summary = cost.summary()
    assert summary.flash_kib.light < summary.flash_kib.full < summary.flash_kib.mixed  # deployed holds both tails
    assert summary.ram_kib.mixed >= max(summary.ram_kib.full, summary.ram_kib.light)
    assert cost.counts.state_bytes["full"] > cost.counts.state_bytes["light"] > 0
    rtf = cost.real_time_factor
    assert rtf.full == pytest.approx(cost.latency_ms.full / 200.0)  # paper segment: 3200 samples at 16 kHz
    payload = cost.to_json()
    assert payload["provenance"].startswith("solved from the paper's Table 1") and payload["latency_error_pct"] is None


def test_memory_and_real_time_limits_are_constraints() -> None:
    record = make_record(tiny_candidate(), 0.5, 4.4, 4.3)
    limits = Constraints(max_ram_kib=100.0, max_flash_kib=400.0, max_real_time_factor=0.01)
    values = constraint_values(record, limits)
    assert values["max_ram_kib"] == pytest.approx(record.cost.ram_kib.mixed - 100.0) and values["max_ram_kib"] > 0
    assert values["max_flash_kib"] < 0 and values["max_real_time_factor"] > 0


def test_illustrative_profiles_say_so() -> None:
    from dslnas.hw_models.op_count import count_candidate
    from dslnas.hw_models.placement import PlacementObjective, compare_placements

    report = compare_placements(count_candidate(PAPER), load_profile("a32-a55-hetero"), 0.5, 0.5, PlacementObjective.POWER)
    assert report.provenance.startswith("ILLUSTRATIVE") and report.to_json()["provenance"].startswith("ILLUSTRATIVE")


def test_a_multi_unit_profile_prices_each_candidate_at_its_best_placement() -> None:
    from dslnas.hw_models.placement import PlacementObjective, at_best_placement

    profile = load_profile("a32-a55-hetero")
    cost = ProfileCostModel(profile).predict(PAPER, 0.5, 0.5)
    best = at_best_placement(cost, profile, 0.5, PlacementObjective.POWER)
    assert best.placement.startswith("front@") and best.power_mw.mixed <= cost.power_mw.mixed
    single = at_best_placement(ProfileCostModel(load_profile("a32-paper")).predict(PAPER, 0.5), load_profile("a32-paper"), 0.5)
    assert single.placement == ""


def test_the_quantizer_is_priced_where_the_profile_runs_it_on_the_device() -> None:
    profile = load_profile("a32-paper")
    unit = profile.unit("a32").model_copy(update={"runs_quantizer": True})
    on_device = ProfileCostModel(profile.model_copy(update={"units": {"a32": unit}})).predict(PAPER, 0.5)
    elsewhere = ProfileCostModel(profile).predict(PAPER, 0.5)
    q = PAPER.quantizer
    codebook_kib = q.num_quantizers * q.codebook_size * PAPER.encoder.embedding_dim * 4 / 1024
    assert on_device.latency_ms.full > elsewhere.latency_ms.full and on_device.latency_ms.light > elsewhere.latency_ms.light
    assert on_device.summary().flash_kib.mixed == pytest.approx(elsewhere.summary().flash_kib.mixed + codebook_kib)
    assert on_device.counts.quantizer.macs_per_inference == 10 * q.num_quantizers * 32 * (q.codebook_size + 1)
