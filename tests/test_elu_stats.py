"""The ELU's data-dependent cost (``hw_models/elu_stats.py``): measured shares of negative inputs on the counted
ELU layers, priced as ``elu.negatives`` through the one price (``ProfileCostModel.predict_counts``)."""

from __future__ import annotations

import pytest
import torch

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.counts import ASSUMED_NEGATIVE_SHARE, Part
from dslnas.hw_models.elu_stats import negative_input_shares, suite_negative_shares, with_negative_shares
from dslnas.hw_models.latency_model import kernel_term_counts
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.profile import OpLatency, load_profile
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.trainers.codec import build_codec

TINY = CandidateConfig(
    name="tiny",
    encoder=EncoderArch(stem_channels=2, block_channels=(4, 4), block_strides=(2, 2), embedding_dim=4),
    dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2),
)


def _elus(counts, part):
    return [layer for layer in counts.paths[part].layers if layer.op_type == "elu"]


def test_shares_are_measured_per_counted_elu_layer_in_order() -> None:
    shares = suite_negative_shares(TINY, seed=3)
    counts = with_negative_shares(count_candidate(TINY), shares)
    for part in (Part.BASE, Part.SWITCH, Part.FULL_TAIL, Part.LIGHT_TAIL):
        elus = _elus(counts, part)
        assert elus and [x.negative_input_share for x in elus] == list(shares[part])
        assert all(0.0 <= s <= 1.0 for s in shares[part])
    assert shares[Part.MASK] == ()
    terms = kernel_term_counts(counts.paths[Part.BASE].layers)
    assert terms["elu.negatives"] == pytest.approx(sum(x.elementwise_ops_per_inference * x.negative_input_share
                                                       for x in _elus(counts, Part.BASE)))
    unmeasured = kernel_term_counts(count_candidate(TINY).paths[Part.BASE].layers)["elu.negatives"]
    assert unmeasured == pytest.approx(ASSUMED_NEGATIVE_SHARE * sum(x.elementwise_ops_per_inference for x in _elus(counts, Part.BASE)))


def test_the_share_follows_the_data_and_a_mismatch_is_an_error() -> None:
    torch.manual_seed(0)
    encoder = build_codec(TINY).encoder.eval()
    audio = 0.1 * torch.randn(1, 1, TINY.segment_samples)
    low, high = negative_input_shares(encoder, audio), negative_input_shares(encoder, audio - 10.0)
    assert high[Part.BASE] != low[Part.BASE]  # an offset input moves the stem's output across zero
    with pytest.raises(ValueError, match="ELU calls observed"):
        with_negative_shares(count_candidate(TINY), {Part.BASE: low[Part.BASE][:-1]})


def test_negative_inputs_are_priced_through_the_one_price() -> None:
    profile = load_profile("a32-emulated")
    unit = profile.unit()
    latency = {**unit.latency, "elu.negatives": OpLatency(ns_per_op=40.0)}
    priced = profile.model_copy(update={"units": {profile.default_unit: unit.model_copy(update={"latency": latency})}})
    counts = count_candidate(TINY)
    all_negative = with_negative_shares(counts, {p: [1.0] * len(_elus(counts, p)) for p in Part})
    none_negative = with_negative_shares(counts, {p: [0.0] * len(_elus(counts, p)) for p in Part})
    model = ProfileCostModel(priced)
    more, less = model.predict_counts(all_negative, 0.0), model.predict_counts(none_negative, 0.0)
    elu_ops = sum(x.elementwise_ops_per_inference for p in (Part.BASE, Part.SWITCH, Part.FULL_TAIL) for x in _elus(counts, p))
    assert more.latency_ms.full - less.latency_ms.full == pytest.approx(40.0 * elu_ops * 1e-6)


def test_routed_shares_take_each_tail_on_its_own_segments_and_clip_shares_weigh_clips() -> None:
    import numpy as np

    from dslnas.hw_models.elu_stats import clip_negative_shares, routed_negative_shares

    torch.manual_seed(0)
    encoder = build_codec(TINY).encoder.eval()
    n = TINY.segment_samples
    segments = (np.random.default_rng(0).standard_normal((4, n)) * np.array([[1.0], [0.001], [1.0], [0.001]])).astype("f4")
    light = [False, True, False, True]  # loud segments full, quiet ones light
    routed = routed_negative_shares(encoder, segments, light)
    loud = negative_input_shares(encoder, torch.from_numpy(segments[[0, 2]].reshape(1, 1, -1)))
    quiet = negative_input_shares(encoder, torch.from_numpy(segments[[1, 3]].reshape(1, 1, -1)))
    assert routed[Part.FULL_TAIL] == loud[Part.FULL_TAIL] and routed[Part.LIGHT_TAIL] == quiet[Part.LIGHT_TAIL]
    clips = [torch.from_numpy(segments[0]), torch.from_numpy(segments[1:].reshape(-1))]
    one = [negative_input_shares(encoder, c.reshape(1, 1, -1)) for c in clips]
    pooled = clip_negative_shares(encoder, clips)
    assert pooled[Part.BASE] == pytest.approx([(a + 3 * b) / 4 for a, b in zip(one[0][Part.BASE], one[1][Part.BASE])])
    assert Part.MASK not in pooled  # no ELU there


def test_a_price_says_whether_its_elu_shares_were_measured() -> None:
    from dataclasses import replace

    from dslnas.hw_models.counts import EluShares, elu_share_source, negative_shares
    from dslnas.hw_models.routing import RoutingSummary
    from dslnas.spaces.errors import UserError

    model = ProfileCostModel(load_profile("a32-emulated"))
    counts = count_candidate(TINY)
    shares = suite_negative_shares(TINY, seed=3)
    assert elu_share_source(counts) is EluShares.ASSUMED
    assert elu_share_source(with_negative_shares(counts, {Part.BASE: shares[Part.BASE]})) is EluShares.PARTLY
    measured = model.predict_counts(counts, RoutingSummary(0.5, elu_negative_shares=shares))
    assert measured.elu_shares is EluShares.MEASURED
    assert measured.routing.elu_negative_shares == negative_shares(with_negative_shares(counts, shares))
    assert RoutingSummary.from_json(measured.routing.to_json()) == measured.routing
    assumed = model.predict_counts(counts, RoutingSummary(0.5))
    assert "ASSUMED" in assumed.elu_share_note and assumed.routing.elu_negative_shares == {}
    with pytest.raises(UserError, match="do not fit"):
        model.predict_counts(counts, RoutingSummary(0.5, elu_negative_shares={Part.BASE: (0.5,)}))
    with pytest.raises(UserError, match="negative-input share"):
        replace(RoutingSummary(0.5), elu_negative_shares={Part.BASE: (1.5,)})
