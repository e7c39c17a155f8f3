"""What the DSL changes is priced: sparsity where the device skips zeros, warm replays, memory, real time."""

from __future__ import annotations


import pytest

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.counts import Part
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.hw_models.routing import RoutingSummary
from dslnas.search.points import constraint_values
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
    sparse_mask, dense_mask = RoutingSummary(0.5, 0.6), RoutingSummary(0.5, 0.0)
    assert dense.predict(PAPER, sparse_mask).latency_ms == dense.predict(PAPER, dense_mask).latency_ms
    assert "buys nothing" in dense.predict(PAPER, sparse_mask).to_json()["alpha"]
    cheaper, baseline = sparse.predict(PAPER, sparse_mask), sparse.predict(PAPER, dense_mask)
    assert cheaper.latency_ms.full < baseline.latency_ms.full and cheaper.latency_ms.light < baseline.latency_ms.light
    assert cheaper.power_mw.mixed < baseline.power_mw.mixed and cheaper.sparsity_priced
    assert cheaper.path_latency_ms[Part.BASE] == baseline.path_latency_ms[Part.BASE]  # only the tails' first convs


def test_warm_replays_cost_the_work_of_the_tail_they_replay_into() -> None:
    model = ProfileCostModel(load_profile("a32-paper"))
    price = model.pricer(PAPER)
    plain = price(RoutingSummary(0.5))
    base_frames_per_s = plain.counts.base_frames_per_inference * plain.inferences_per_s
    full_only = price(RoutingSummary(0.5, replayed_frames_per_s={Part.FULL_TAIL: 200.0}))
    share = 200.0 / base_frames_per_s
    assert full_only.replays_per_inference[Part.FULL_TAIL] == pytest.approx(share)
    assert full_only.latency_ms.mixed == pytest.approx(plain.latency_ms.mixed + share * plain.path_latency_ms[Part.FULL_TAIL])
    assert full_only.power_mw.mixed > plain.power_mw.mixed
    assert full_only.energy_per_inference_uj.mixed == pytest.approx(
        plain.energy_per_inference_uj.mixed + 1e3 * share * plain.path_energy_mj[Part.FULL_TAIL])
    light_only = price(RoutingSummary(0.5, replayed_frames_per_s={Part.LIGHT_TAIL: 200.0}))
    assert plain.latency_ms.mixed < light_only.latency_ms.mixed < full_only.latency_ms.mixed  # a light replay is cheaper
    assert (full_only.latency_ms.full, full_only.latency_ms.light) == (plain.latency_ms.full, plain.latency_ms.light)


def test_memory_and_real_time_factor_of_the_deployed_encoder() -> None:
    cost = ProfileCostModel(load_profile("a32-paper")).predict(PAPER, 0.3)
    summary = cost.without_counts()
    assert summary.flash_kib.light < summary.flash_kib.full < summary.flash_kib.mixed  # deployed holds both tails
    assert summary.ram_kib.mixed >= max(summary.ram_kib.full, summary.ram_kib.light)
    assert cost.counts.state_bytes[Part.FULL_TAIL] > cost.counts.state_bytes[Part.LIGHT_TAIL] > 0
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

    report = compare_placements(count_candidate(PAPER), load_profile("a32-a55-hetero"), RoutingSummary(0.5, 0.5),
                                PlacementObjective.POWER)
    assert report.provenance.startswith("ILLUSTRATIVE") and report.to_json()["provenance"].startswith("ILLUSTRATIVE")


def test_a_multi_unit_profile_prices_each_candidate_at_its_best_placement() -> None:
    from dslnas.hw_models.placement import PlacementObjective

    profile = load_profile("a32-a55-hetero")
    routing = RoutingSummary(0.5, 0.5)
    best = ProfileCostModel(profile, objective=PlacementObjective.POWER).predict(PAPER, routing)
    on_default = ProfileCostModel(profile, unit=profile.default_unit).predict(PAPER, routing)
    assert best.placement.startswith("front@") and best.power_mw.mixed <= on_default.power_mw.mixed
    assert on_default.placement == ""
    assert ProfileCostModel(load_profile("a32-paper")).predict(PAPER, 0.5).placement == ""


def test_the_quantizer_is_priced_where_the_profile_runs_it_on_the_device() -> None:
    profile = load_profile("a32-paper")
    unit = profile.unit("a32").model_copy(update={"runs_quantizer": True})
    on_device = ProfileCostModel(profile.model_copy(update={"units": {"a32": unit}})).predict(PAPER, 0.5)
    elsewhere = ProfileCostModel(profile).predict(PAPER, 0.5)
    q = PAPER.quantizer
    codebook_kib = q.num_quantizers * q.codebook_size * PAPER.encoder.embedding_dim * 4 / 1024
    assert on_device.latency_ms.full > elsewhere.latency_ms.full and on_device.latency_ms.light > elsewhere.latency_ms.light
    assert on_device.flash_kib.mixed == pytest.approx(elsewhere.flash_kib.mixed + codebook_kib)
    assert on_device.counts.quantizer.macs_per_inference == 10 * q.num_quantizers * 32 * (q.codebook_size + 1)
