"""Latency/power model: Table 1 reproduction, mixing, the nnls fit, placement, profile errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dslnas.hw_models.cost import Cost, ProfileCostModel, mix
from dslnas.hw_models.latency_model import fit_latency_coefficients, latency_ms
from dslnas.hw_models.op_count import EncoderCounts, LayerCount, count_candidate
from dslnas.hw_models.paper_profile import derive_paper_profile
from dslnas.hw_models.placement import (
    Placement,
    PlacementObjective,
    compare_placements,
    measure_mask_sparsity,
    sent_bytes,
)
from dslnas.hw_models.profile import DeviceProfile, OpLatency, load_profile, shipped_profiles
from dslnas.hw_models.routing import RoutingSummary
from dslnas.spaces.errors import ConfigError, UserError
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.yaml_io import dump_model
from dslnas.trainers.encoder import DSLEncoder

# Table 1 of the DSL paper (A32): (light usage, latency_ms mixed, power_mw mixed, latency saving %, power saving %)
TABLE_1 = {"full_ms": 14.74, "light_ms": 9.86, "full_mw": 11.56, "light_mw": 8.47}
TABLE_1_MIXED = [(0.3, 13.28, 10.63, 9.9, 8.0), (0.8, 10.84, 9.09, 26.5, 21.4)]


@pytest.fixture(scope="module")
def counts() -> EncoderCounts:
    return count_candidate(candidate_preset("paper"))


@pytest.fixture(scope="module")
def paper_model() -> ProfileCostModel:
    return ProfileCostModel(load_profile("a32-paper"))


def test_full_and_light_reproduce_table_1(paper_model: ProfileCostModel, counts: EncoderCounts) -> None:
    cost = paper_model.predict_counts(counts, 0.5)
    assert cost.latency_ms.full == pytest.approx(TABLE_1["full_ms"], rel=0.02)
    assert cost.latency_ms.light == pytest.approx(TABLE_1["light_ms"], rel=0.02)
    assert cost.power_mw.full == pytest.approx(TABLE_1["full_mw"], rel=0.02)
    assert cost.power_mw.light == pytest.approx(TABLE_1["light_mw"], rel=0.02)


@pytest.mark.parametrize(("usage", "ms", "mw", "ms_saving", "mw_saving"), TABLE_1_MIXED)
def test_mixed_pass_and_savings_reproduce_table_1(
    paper_model: ProfileCostModel, counts: EncoderCounts, usage: float, ms: float, mw: float, ms_saving: float, mw_saving: float
) -> None:
    cost = paper_model.predict_counts(counts, usage)
    assert cost.latency_ms.mixed == pytest.approx(ms, rel=0.02)
    assert cost.power_mw.mixed == pytest.approx(mw, rel=0.02)
    assert cost.latency_saving_pct == pytest.approx(ms_saving, rel=0.02)
    assert cost.power_saving_pct == pytest.approx(mw_saving, rel=0.02)


def test_shipped_paper_profile_is_what_the_derivation_gives() -> None:
    assert load_profile("a32-paper") == derive_paper_profile()


def test_mixed_is_the_usage_weighted_mean_and_savings_follow(paper_model: ProfileCostModel, counts: EncoderCounts) -> None:
    cost = paper_model.predict_counts(counts, 0.37)
    for figures in (cost.latency_ms, cost.power_mw):
        assert figures.mixed == pytest.approx(0.37 * figures.light + 0.63 * figures.full)
    assert cost.latency_saving_pct == pytest.approx(100 * (1 - cost.latency_ms.mixed / cost.latency_ms.full))
    front = sum(cost.path_latency_ms[p] for p in ("base", "mask", "switch"))
    assert cost.latency_ms.full == pytest.approx(front + cost.path_latency_ms["full"])
    assert cost.latency_ms.light == pytest.approx(front + cost.path_latency_ms["light"])
    assert mix(10.0, 4.0, 0.0).mixed == 10.0 and mix(10.0, 4.0, 1.0).mixed == 4.0


@pytest.mark.parametrize("usage", [-0.1, 1.5])
def test_light_usage_outside_0_1_is_a_user_error(paper_model: ProfileCostModel, usage: float) -> None:
    with pytest.raises(UserError, match="light usage"):
        paper_model.predict(candidate_preset("paper"), usage)


def test_cost_json_has_the_cli_contract(paper_model: ProfileCostModel, counts: EncoderCounts) -> None:
    payload = paper_model.predict_counts(counts, 0.8).to_json()
    assert set(payload["latency_ms"]) == set(payload["power_mw"]) == {"full", "light", "mixed"}
    assert {"latency_saving_pct", "power_saving_pct", "paths", "unsupported_ops"} <= set(payload)
    assert payload["unsupported_ops"] == []


def _random_layers(rng: np.random.Generator, op_types: list[str]) -> tuple[LayerCount, ...]:
    return tuple(
        LayerCount(f"l{i}", op, int(rng.integers(1e3, 1e6)), int(rng.integers(1e3, 1e5)), int(rng.integers(0, 5e4)))
        for i, op in enumerate(op_types * int(rng.integers(1, 4)))
    )


def test_nnls_fit_recovers_known_coefficients() -> None:
    truth = {"conv": OpLatency(ns_per_op=2.5, ns_per_act_byte=0.3, ns_per_weight_byte=7.0, us_per_layer=3.0),
             "elu": OpLatency(ns_per_op=9.0, ns_per_act_byte=0.2, ns_per_weight_byte=0.0, us_per_layer=1.0)}
    rng = np.random.default_rng(0)
    layer_sets = [_random_layers(rng, list(rng.permutation(["conv", "elu"]))[: rng.integers(1, 3)]) for _ in range(60)]
    samples = [(layers, latency_ms(layers, truth)) for layers in layer_sets]
    fitted, stats = fit_latency_coefficients(samples)
    for op, coef in truth.items():
        for term, value in coef.model_dump().items():
            assert getattr(fitted[op], term) == pytest.approx(value, rel=1e-5, abs=1e-9)
    assert stats.n_samples == 60 and stats.mape_pct < 1e-6 and stats.within_5pct_share == 1.0


def test_nnls_fit_stays_non_negative_and_reports_noise() -> None:
    truth = {"conv": OpLatency(ns_per_op=3.0, us_per_layer=2.0)}
    rng = np.random.default_rng(1)
    layer_sets = [_random_layers(rng, ["conv"]) for _ in range(40)]
    samples = [(layers, latency_ms(layers, truth) * rng.uniform(0.85, 1.15)) for layers in layer_sets]
    fitted, stats = fit_latency_coefficients(samples)
    assert all(v >= 0 for v in fitted["conv"].model_dump().values())
    assert 0 < stats.mape_pct < 15 and 0 < stats.within_10pct_share <= 1.0
    with pytest.raises(ValueError):
        fit_latency_coefficients([])


def test_sparsity_cuts_the_bytes_sent_across_the_link() -> None:
    assert sent_bytes(1000, 0.0) == 4000  # dense: no bitmap overhead
    assert sent_bytes(1000, 0.75) == 4 * 250 + 125  # non-zeros + 1-bit occupancy bitmap
    assert sent_bytes(1000, 0.01) == 4000  # sparse form would be larger: stays dense


def test_placement_sends_less_with_a_sparser_mask(counts: EncoderCounts) -> None:
    profile = load_profile("a32-a55-hetero")
    split = (Placement(front="a32", light="a32", full="a55"),)
    dense = compare_placements(counts, profile, RoutingSummary(0.3, 0.0), placements=split).cheapest
    sparse = compare_placements(counts, profile, RoutingSummary(0.3, 0.8), placements=split).cheapest
    assert sparse.link_bytes_per_inference.full < dense.link_bytes_per_inference.full
    assert sparse.link_bytes_per_inference.light == dense.link_bytes_per_inference.light == 0
    assert sparse.latency_ms.full < dense.latency_ms.full and sparse.power_mw.full < dense.power_mw.full


def test_the_cheapest_placement_is_reported_first(counts: EncoderCounts) -> None:
    profile = load_profile("a32-a55-hetero")
    by_power = compare_placements(counts, profile, RoutingSummary(0.8), objective=PlacementObjective.POWER)
    by_latency = compare_placements(counts, profile, RoutingSummary(0.8), objective=PlacementObjective.LATENCY)
    assert len(by_power.placements) == 8
    assert by_power.cheapest.power_mw.mixed == min(p.power_mw.mixed for p in by_power.placements)
    assert by_latency.cheapest.latency_ms.mixed == min(p.latency_ms.mixed for p in by_latency.placements)
    single = next(p for p in by_power.placements if p.placement == Placement("a32", "a32", "a32"))
    paper = ProfileCostModel(load_profile("a32-paper")).predict_counts(counts, 0.8)
    assert single.power_mw.mixed == pytest.approx(paper.power_mw.mixed)  # same unit, no link: same figures
    assert by_power.to_json()["cheapest"] == by_power.cheapest.placement.name


def test_crossing_units_without_a_link_is_a_config_error(counts: EncoderCounts) -> None:
    profile = load_profile("a32-a55-hetero").model_copy(update={"link": None})
    with pytest.raises(ConfigError, match="has no link"):
        compare_placements(counts, profile, RoutingSummary(0.5))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "device.yaml"
    path.write_text(text)
    return path


def _one_line_config_error(call, *needles: str) -> None:
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message


def test_profile_errors_are_one_line_and_name_the_thing(tmp_path: Path) -> None:
    paper_text = dump_model(load_profile("a32-paper"))
    _one_line_config_error(lambda: load_profile(tmp_path / "absent.yaml"), "absent.yaml", "not found")
    _one_line_config_error(lambda: load_profile(_write(tmp_path, "name: [unclosed\n")), "device.yaml", "not valid YAML")
    bad_key = paper_text.replace("  static_mw:", "  statik_mw:")
    _one_line_config_error(lambda: load_profile(_write(tmp_path, bad_key)), "unknown key 'units.a32.power.statik_mw'")
    _one_line_config_error(lambda: load_profile("no-such-device"), "no-such-device", *shipped_profiles())


def test_a_missing_op_coefficient_names_the_op_and_the_profile(counts: EncoderCounts) -> None:
    profile = load_profile("a32-paper")
    unit = profile.unit()
    trimmed = unit.model_copy(update={"latency": {k: v for k, v in unit.latency.items() if k != "softplus"}})
    broken = DeviceProfile.model_validate({**profile.model_dump(), "units": {"a32": trimmed.model_dump()}})
    _one_line_config_error(lambda: ProfileCostModel(broken).predict_counts(counts, 0.5), "softplus", "a32-paper")


def test_predict_counts_the_candidate_itself(paper_model: ProfileCostModel, counts: EncoderCounts) -> None:
    cost = paper_model.predict(candidate_preset("paper"), 0.8)
    assert isinstance(cost, Cost) and cost.counts.paths == counts.paths
    assert cost.latency_ms == paper_model.predict_counts(counts, 0.8).latency_ms



def test_measured_mask_sparsity_is_the_fraction_of_exact_zeros() -> None:
    candidate = candidate_preset("demo")
    encoder = DSLEncoder(candidate)
    audio = torch.randn(1, 1, candidate.segment_samples, generator=torch.Generator().manual_seed(0))
    assert 0.0 <= measure_mask_sparsity(encoder, audio) < 1.0
    with torch.no_grad():
        encoder.mask.threshold.fill_(1e3)  # a threshold above every activation zeroes the whole map
    assert measure_mask_sparsity(encoder, audio) == 1.0
