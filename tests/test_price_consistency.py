"""One price for a routed run: every caller prices the same routing to the same figures, on every shipped profile.

The routing comes from a device's routed run (a fixed route pattern, as ``confirm`` reads it), so it carries
warm replays into both tails and a sparse mask; it is then priced by the trial's sweep points and oracle
sweep (``search.points``), ``evaluate --json`` (``search.evaluation_summary``), the ``cost`` CLI and
``confirm``, on each profile in ``hw_models/profiles`` (a zero-skipping one and a multi-unit one included).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dslnas.hw_models.c_export import CExportInfo
from dslnas.hw_models.cost import Cost, ProfileCostModel
from dslnas.hw_models.counts import EncoderCounts, Part
from dslnas.hw_models.footprint import provenance_text
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.profile import load_profile, shipped_profiles
from dslnas.hw_models.routing import RoutingSummary
from dslnas.hw_models.runners.artifact import Artifact
from dslnas.hw_models.runners.base import Measurement
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT, RoutedRun, RoutedRunner
from dslnas.search.cli import app
from dslnas.search.confirm import ConfirmSettings, _measure_mixed, _predicted, measured_routing
from dslnas.search.evaluation_summary import evaluation_summary
from dslnas.search.points import build_points
from dslnas.search.records import Comparison, TrialRecord, TrialTiming
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.space import Objective
from dslnas.spaces.yaml_io import dump_model
from dslnas.trainers.codec import build_codec
from dslnas.trainers.evaluate import EvaluationResult, GroupSummary
from dslnas.trainers.evaluate import SweepPoint as EvaluatedPoint
from dslnas.trainers.streaming import StreamingEncoder

CANDIDATE = candidate_preset("demo")  # on a32-a55-hetero its cheapest placement is not the default unit's
PATTERN = (False, False, True, True, False, True, True, True, False, False, True, False)  # True: light
MASK_SPARSITY = 0.4
REL = 1e-12  # float rounding only: the rates pass through per-second sums


class _PatternRunner(RoutedRunner):
    """A routed runner whose switch takes :data:`PATTERN`, whatever the audio."""

    name = "pattern"

    def measure(self, artifact: Artifact) -> Measurement:
        return Measurement(artifact.key, 1.0, 0.9, 1.1, 3, self.name)

    def run_routed(self, info: CExportInfo, segments: np.ndarray) -> RoutedRun:
        paths = tuple(PATH_LIGHT if light else PATH_FULL for light in PATTERN)
        return RoutedRun(paths, tuple(1.0 for _ in paths))


@pytest.fixture(scope="module")
def codec() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_codec(CANDIDATE).eval()


@pytest.fixture(scope="module")
def routing(codec) -> RoutingSummary:
    """The routing of the pattern runner's run, as ``confirm`` reads a measured routed run."""
    return measured_routing(_PatternRunner().run_routed(None, np.zeros(0)), codec.encoder, MASK_SPARSITY)


def test_a_routed_runs_replays_are_the_streaming_runtimes(routing: RoutingSummary, codec) -> None:
    stream = StreamingEncoder(codec.encoder)
    replayed = stream.warm_replays(torch.tensor(PATTERN))
    audio_s = len(PATTERN) * CANDIDATE.segment_samples / CANDIDATE.encoder.sample_rate_hz
    assert all(n > 0 for n in replayed.values())  # both tails resume
    assert {t: v * audio_s for t, v in routing.replayed_frames_per_s.items()} == pytest.approx(
        {Part(t.value): n for t, n in replayed.items()})
    assert routing.switch_backs_per_s * audio_s == pytest.approx(3)  # light -> full three times in PATTERN
    assert routing.light_usage == pytest.approx(sum(PATTERN) / len(PATTERN))


def _evaluation(routing: RoutingSummary) -> EvaluationResult:
    """A streaming evaluation whose overall run and second sweep (and oracle) point ran under ``routing``."""
    replays = routing.replayed_frames_per_s
    rates = {"transitions_per_s": routing.switch_backs_per_s, "warmup_frames_per_s": sum(replays.values()),
             "warmup_frames_light_per_s": replays[Part.LIGHT_TAIL]}
    zero = {k: 0.0 for k in rates}
    full_only = EvaluatedPoint(0.0, 0.0, 4.4, {"speech": 0.0}, {"speech": 4.4}, **zero)
    point = EvaluatedPoint(0.3, routing.light_usage, 4.3, {"speech": routing.light_usage}, {"speech": 4.3}, **rates)
    overall = GroupSummary(2, 4.4, 4.0, 4.3, routing.light_usage, routing.mask_sparsity, 0.05, switch_spearman=0.7, **rates)
    return EvaluationResult(0.3, (), overall, {"speech": overall}, (full_only, point), (full_only, point))


def _cli_cost(profile: str, routing: RoutingSummary, tmp_path: Path) -> dict:
    config = tmp_path / "candidate.yaml"
    dump_model(CANDIDATE, config)
    replays = routing.replayed_frames_per_s
    result = CliRunner().invoke(app, [
        "cost", "--config", str(config), "--profile", profile, "--light-usage", repr(routing.light_usage),
        "--mask-sparsity", repr(routing.mask_sparsity), "--full-replays-per-s", repr(replays[Part.FULL_TAIL]),
        "--light-replays-per-s", repr(replays[Part.LIGHT_TAIL]), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _confirmed(record: TrialRecord, profile: str, tmp_path: Path) -> tuple:
    """``confirm``'s full, light and mixed predictions for ``record`` on ``profile`` (the mixed one under the
    pattern runner's measured routing)."""
    model = ProfileCostModel(load_profile(profile))
    predicted = _predicted(record, model, profile, "pattern", "test", Comparison.ABSOLUTE)
    settings = ConfirmSettings(tmp_path / "work", profile=profile, mixed_clips=1, mixed_clip_seconds=0.5)
    point = SimpleNamespace(record=record, number=0)
    mixed = _measure_mixed(point, _PatternRunner(), settings, predicted["full"], model)
    assert mixed.ok, mixed.failure
    return predicted["full"], predicted["light"], mixed


@pytest.mark.parametrize("profile", shipped_profiles())
def test_every_caller_prices_the_same_routing_alike(profile: str, routing: RoutingSummary, tmp_path: Path) -> None:
    direct = ProfileCostModel(load_profile(profile)).predict(CANDIDATE, routing)
    price = ProfileCostModel(load_profile(profile)).pricer(CANDIDATE)
    points = build_points(CANDIDATE, _evaluation(routing), price, tmp_path / "ckpt", TrialTiming(0.0, 0.0, 0.0, 0.0),
                          (Objective.VISQOL, Objective.LATENCY_MS))
    record = points.points[1]
    summary = evaluation_summary(_evaluation(routing), CANDIDATE, profile)
    cli = _cli_cost(profile, routing, tmp_path)
    full, light, mixed = _confirmed(record, profile, tmp_path)

    latency = {"trial": record.cost.latency_ms.mixed, "sweep": record.sweep[1].latency_ms,
               "oracle sweep": record.oracle_sweep[1].latency_ms, "evaluate": summary["paths"]["mixed"]["latency_ms"],
               "evaluate sweep": summary["sweep"][1]["latency_ms"], "cost": cli["latency_ms"]["mixed"],
               "confirm": mixed.predicted_latency_ms}
    power = {"trial": record.cost.power_mw.mixed, "sweep": record.sweep[1].power_mw,
             "oracle sweep": record.oracle_sweep[1].power_mw, "evaluate": summary["paths"]["mixed"]["power_mw"],
             "evaluate sweep": summary["sweep"][1]["power_mw"], "cost": cli["power_mw"]["mixed"],
             "confirm": mixed.predicted_power_mw}
    assert latency == pytest.approx({k: direct.latency_ms.mixed for k in latency}, rel=REL)
    assert power == pytest.approx({k: direct.power_mw.mixed for k in power}, rel=REL)
    energy = {"trial": record.cost.energy_per_inference_uj.mixed, "confirm": mixed.predicted_energy_uj,
              "cost": cli["pass_energy_per_inference_uj"]["mixed"]}
    assert energy == pytest.approx({k: direct.energy_per_inference_uj.mixed for k in energy}, rel=REL)
    passes = {"trial": (record.cost.latency_ms.full, record.cost.latency_ms.light),
              "evaluate": (summary["paths"]["full"]["latency_ms"], summary["paths"]["light"]["latency_ms"]),
              "cost": (cli["latency_ms"]["full"], cli["latency_ms"]["light"]),
              "confirm": (full.predicted_latency_ms, light.predicted_latency_ms)}
    for caller, figures in passes.items():
        assert figures == pytest.approx((direct.latency_ms.full, direct.latency_ms.light), rel=REL), caller
    assert {record.cost.placement, summary["placement"], cli["placement"]} == {direct.placement}


def _priced_without(profile: str, routing: RoutingSummary, counts: EncoderCounts) -> dict[str, Cost]:
    """What a caller that dropped one part of the routing or the placement would have priced."""
    loaded = load_profile(profile)
    model = ProfileCostModel(loaded)
    return {"no sparsity": model.predict_counts(counts, RoutingSummary(routing.light_usage, 0.0, routing.replayed_frames_per_s)),
            "no replays": model.predict_counts(counts, RoutingSummary(routing.light_usage, routing.mask_sparsity)),
            "default unit": ProfileCostModel(loaded, unit=loaded.default_unit).predict_counts(counts, routing)}


def test_the_shipped_profiles_include_what_the_price_must_not_drop(routing: RoutingSummary, preset_counts) -> None:
    """A zero-skipping and a multi-unit profile ship, and on them sparsity and placement move the price, so the
    test above would catch a caller that dropped either (replays move it on every profile)."""
    counts = preset_counts["demo"]
    profiles = {name: load_profile(name) for name in shipped_profiles()}
    skipping = [n for n, p in profiles.items() if any(u.skips_zero_inputs for u in p.units.values())]
    multi = [n for n, p in profiles.items() if len(p.units) > 1]
    assert skipping and multi
    for name in profiles:
        best = ProfileCostModel(profiles[name]).predict_counts(counts, routing)
        dropped = _priced_without(name, routing, counts)
        assert dropped["no replays"].latency_ms.mixed < best.latency_ms.mixed
        # sparsity moves latency where a unit skips zeros or the masked map crosses a link (its bytes)
        assert (dropped["no sparsity"].latency_ms.mixed > best.latency_ms.mixed) == (name in skipping or best.link_bytes_per_s > 0)
        pinned = profiles[name].placement is not None  # priced at its placement, not the cheapest: it differs
        moved = (best.power_mw.mixed != dropped["default unit"].power_mw.mixed if pinned
                 else best.power_mw.mixed < dropped["default unit"].power_mw.mixed)
        assert moved == (name in multi)
        assert (best.unit != profiles[name].default_unit) == (name in multi)


@pytest.fixture(scope="module")
def preset_counts() -> dict:
    return {name: count_candidate(candidate_preset(name)) for name in ("paper", "demo")}


@pytest.mark.parametrize("profile", shipped_profiles())
def test_each_shipped_profile_loads_prices_both_presets_and_states_its_provenance(profile: str, preset_counts) -> None:
    loaded = load_profile(profile)
    assert loaded.name == profile and loaded.provenance.device and loaded.provenance.runner and loaded.provenance.date
    text = provenance_text(loaded)
    assert text and loaded.provenance.runner in text or text.startswith(("solved from the paper", "ILLUSTRATIVE"))
    for preset, counts in preset_counts.items():
        cost = ProfileCostModel(loaded).predict_counts(counts, RoutingSummary(0.5, 0.3))
        assert cost.provenance == text and cost.profile == profile
        pin = loaded.placement  # a light tail pinned on a slower unit than the full tail's may take longer
        ordered = (cost.power_mw, cost.energy_per_inference_uj) + (() if pin and pin.light != pin.full else (cost.latency_ms,))
        for figures in ordered:
            assert 0 < figures.light < figures.full and figures.light < figures.mixed < figures.full, (preset, figures)
        assert cost.unsupported_ops == {}, preset


@pytest.fixture(scope="module")
def elu_shares(codec) -> dict:
    """Each ELU's negative-input share of the demo candidate on seeded noise, as a trial measures them on its clips."""
    from dslnas.hw_models.elu_stats import clip_negative_shares

    clips = [0.1 * torch.randn(n * CANDIDATE.segment_samples, generator=torch.Generator().manual_seed(n)) for n in (2, 3)]
    return clip_negative_shares(codec.encoder, clips)


@pytest.mark.parametrize("profile", shipped_profiles())
def test_measured_elu_shares_reach_every_callers_price(profile: str, routing: RoutingSummary, elu_shares: dict,
                                                        tmp_path: Path) -> None:
    """The trial's points, ``evaluate --json`` and ``confirm``'s full / light predictions (read from the trial's
    record) price the shares the trial measured, and say so; without shares every price says it assumed them."""
    from dataclasses import replace

    from dslnas.hw_models.counts import EluShares

    model = ProfileCostModel(load_profile(profile))
    direct = model.predict(CANDIDATE, replace(routing, elu_negative_shares=elu_shares))
    assumed = model.predict(CANDIDATE, routing)
    assert direct.elu_shares is EluShares.MEASURED and assumed.elu_shares is EluShares.ASSUMED
    assert "ASSUMED" in assumed.to_json()["elu_negative_shares"]["note"]
    points = build_points(CANDIDATE, _evaluation(routing), model.pricer(CANDIDATE, elu_shares), tmp_path / "ckpt",
                          TrialTiming(0.0, 0.0, 0.0, 0.0), (Objective.VISQOL, Objective.LATENCY_MS))
    record = points.points[1]
    summary = evaluation_summary(_evaluation(routing), CANDIDATE, profile, elu_shares)
    predicted = _predicted(record, model, profile, "pattern", "test", Comparison.ABSOLUTE)
    latency = {"trial": record.cost.latency_ms.mixed, "evaluate": summary["paths"]["mixed"]["latency_ms"],
               "evaluate sweep": summary["sweep"][1]["latency_ms"]}
    assert latency == pytest.approx({k: direct.latency_ms.mixed for k in latency}, rel=REL)
    passes = {"confirm": (predicted["full"].predicted_latency_ms, predicted["light"].predicted_latency_ms),
              "evaluate": (summary["paths"]["full"]["latency_ms"], summary["paths"]["light"]["latency_ms"])}
    for caller, figures in passes.items():
        assert figures == pytest.approx((direct.latency_ms.full, direct.latency_ms.light), rel=REL), caller
    stored = Cost.from_record(json.loads(json.dumps(record.cost.to_record())))
    assert stored.routing.elu_negative_shares == direct.routing.elu_negative_shares and stored.elu_shares is EluShares.MEASURED
    assert summary["elu_negative_shares"] == direct.elu_share_note


def test_measured_elu_shares_move_the_price_on_the_emulated_profiles(routing: RoutingSummary, elu_shares: dict) -> None:
    """On profiles fitted with the ELU term (the emulated cores' C ELU runs expf per negative input), the shares
    move the price, so the test above would catch a caller that dropped them."""
    for profile in ("a32-emulated", "a32-m33-pair"):
        model = ProfileCostModel(load_profile(profile))
        measured = model.predict(CANDIDATE, replace_shares(routing, elu_shares)).latency_ms
        assumed = model.predict(CANDIDATE, routing).latency_ms
        assert measured.full != pytest.approx(assumed.full, rel=1e-6), profile


def test_confirms_mixed_prediction_prices_the_trials_elu_shares(routing: RoutingSummary, elu_shares: dict,
                                                               tmp_path: Path) -> None:
    profile = "a32-emulated"
    model = ProfileCostModel(load_profile(profile))
    points = build_points(CANDIDATE, _evaluation(routing), model.pricer(CANDIDATE, elu_shares), tmp_path / "ckpt",
                          TrialTiming(0.0, 0.0, 0.0, 0.0), (Objective.VISQOL, Objective.LATENCY_MS))
    _, _, mixed = _confirmed(points.points[1], profile, tmp_path)
    direct = model.predict(CANDIDATE, replace_shares(routing, elu_shares))
    assert mixed.predicted_latency_ms == pytest.approx(direct.latency_ms.mixed, rel=REL)


def replace_shares(routing: RoutingSummary, shares: dict) -> RoutingSummary:
    from dataclasses import replace

    return replace(routing, elu_negative_shares=shares)
