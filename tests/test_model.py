"""The codec and its Dynamic Switch Layer: shapes, causality, loss terms, routing, DSL insertion."""

from __future__ import annotations

import math

import pytest
import torch

from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch, QuantizerConfig
from dslnas.spaces.presets import demo_candidate, paper_candidate
from dslnas.trainers.blocks import (
    CausalConv1d, CausalConvTranspose1d, DecoderBlock, EncoderBlock, RepeatUpsample, ResidualUnit,
)
from dslnas.trainers.codec import build_codec, insert_dsl
from dslnas.trainers.dsl import (
    SWITCH_LOG_EPS, VARIATION_FLOOR, Mask, Switch, dsl_loss_terms, migrate_legacy_mask, mix_by_segment,
    relative_light_loss, route_light, segment_discrepancy,
)

TINY = CandidateConfig(
    encoder=EncoderArch(stem_channels=2, block_channels=(4, 6), block_strides=(2, 2), residual_dilations=(1, 3), embedding_dim=4),
    dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2),
    quantizer=QuantizerConfig(num_quantizers=2, codebook_size=8, kmeans_iters=0),
)


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_causal(module: torch.nn.Module, channels: int, length: int, hop_out: float) -> None:
    """Changing the input after sample t must not change outputs that end before t."""
    torch.manual_seed(0)
    x = torch.randn(1, channels, length)
    y = x.clone()
    cut = length // 2
    y[..., cut:] += torch.randn_like(y[..., cut:])
    with torch.no_grad():
        a, b = module(x), module(y)
    safe = int(cut / hop_out)  # output frames whose input window ends before `cut`
    assert safe > 0
    assert torch.allclose(a[..., :safe], b[..., :safe], atol=1e-6)
    assert not torch.allclose(a[..., safe + 1 :], b[..., safe + 1 :])


@pytest.mark.parametrize(
    ("module", "channels", "out_channels", "ratio"),
    [
        (CausalConv1d(3, 5, 7), 3, 5, 1.0),
        (CausalConv1d(3, 5, 8, stride=4), 3, 5, 0.25),
        (CausalConv1d(3, 3, 3, dilation=9), 3, 3, 1.0),
        (CausalConvTranspose1d(3, 2, 8, stride=4), 3, 2, 4.0),
        (ResidualUnit(4, 5, 3), 4, 4, 1.0),
        (EncoderBlock(4, 8, 5, 5, (1, 3)), 4, 8, 0.2),
        (DecoderBlock(8, 4, 5, 5, (1, 3)), 8, 4, 5.0),
        (RepeatUpsample(3, 2, 4), 3, 2, 4.0),
        (DecoderBlock(8, 4, 5, 5, (1, 3), repeat=True), 8, 4, 5.0),
    ],
)
def test_block_shapes_and_causality(module: torch.nn.Module, channels: int, out_channels: int, ratio: float) -> None:
    out = module(torch.randn(2, channels, 40))
    assert out.shape == (2, out_channels, int(40 * ratio))
    assert_causal(module, channels, 80, 1 / ratio)


@pytest.mark.parametrize("stride", [2, 4, 5])
def test_repeat_upsampling_leaves_no_tones_where_a_transposed_conv_does(stride: int) -> None:
    """A constant input (all energy at 0 Hz) must come out constant: a tone at a multiple of the input frame
    rate would show as a period-``stride`` ripple. Random weights, so this holds for any trained decoder."""
    torch.manual_seed(stride)
    x = torch.ones(1, 3, 16)
    with torch.no_grad():
        repeat = RepeatUpsample(3, 2, stride)(x)[..., 2 * stride:]     # past the causal pad
        transposed = CausalConvTranspose1d(3, 2, 2 * stride, stride=stride)(x)[..., 2 * stride:]
    assert torch.allclose(repeat, repeat[..., :1].expand_as(repeat), atol=1e-6)
    assert (transposed.std(dim=-1) > 1e-3).all()


def test_encoder_paths_are_causal_and_shaped() -> None:
    codec = build_codec(TINY)
    enc = codec.encoder
    seg = TINY.segment_samples
    x = torch.randn(3, 1, 4 * seg)
    out = enc(x)
    assert out.full.shape == out.light.shape == out.mixed.shape == (3, 4, 4 * seg // 4)
    assert out.predicted.shape == out.use_light.shape == (3, 4)
    assert (out.predicted >= 0).all()
    for path in (enc.base, enc.full_tail, enc.light_tail):
        path.eval()
    assert_causal(torch.nn.Sequential(enc.base, enc.mask, enc.full_tail), 1, 4 * seg, 4)
    assert_causal(torch.nn.Sequential(enc.base, enc.mask, enc.light_tail), 1, 4 * seg, 4)


def test_codec_reconstructs_every_path_at_input_length() -> None:
    codec = build_codec(TINY).eval()
    audio = torch.randn(1, 1, 3 * TINY.segment_samples + 5)
    outputs, encoded = codec.reconstruct(audio)
    assert {p.value for p in outputs} == {"full", "light", "mixed"}
    assert all(o.shape == audio.shape for o in outputs.values())
    assert encoded.predicted.shape == (1, 4)  # padded to whole segments


def test_mask_produces_exact_zeros_and_l1_term_counts_them() -> None:
    mask = Mask(4)
    with torch.no_grad():
        mask.threshold.fill_(0.69)  # small activations vanish
    y = mask(torch.linspace(-2, 2, 40).reshape(1, 4, 10))
    assert (y == 0).float().mean() > 0.2
    assert y.abs().max() < 2


def test_a_fresh_mask_is_the_exact_identity() -> None:
    x = torch.randn(2, 4, 50) * torch.logspace(-6, 0, 50)  # quiet activations included
    assert torch.equal(Mask(4).eval()(x), x)
    assert torch.equal(Mask(4).train()(x), x)


def test_alpha_pushes_the_threshold_up_from_zero_and_reconstruction_holds_it_down() -> None:
    """The clamp passes its gradient straight through, so the L1 term can lift a threshold from 0 (and from
    below it), and without it the reconstruction term keeps the mask the identity."""
    x = torch.randn(4, 4, 64)

    def train(alpha: float, start: float) -> Mask:
        mask = Mask(4)
        with torch.no_grad():
            mask.threshold.fill_(start)
        opt = torch.optim.Adam([mask.threshold], lr=0.01)
        for _ in range(100):
            y = mask(x)
            loss = (y - x).abs().mean() + alpha * y.abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return mask.eval()

    assert (train(alpha=3.0, start=0.0)(x) == 0).float().mean() > 0.3
    assert (train(alpha=3.0, start=-0.2)(x) == 0).float().mean() > 0.1  # below zero is not a dead end
    assert torch.equal(train(alpha=0.0, start=0.0)(x), x)


def test_a_first_design_mask_loads_as_the_threshold_it_applied() -> None:
    legacy = {"encoder.mask.scale": torch.ones(1, 4, 1), "encoder.mask.threshold_raw": torch.full((1, 4, 1), -4.0)}
    state = migrate_legacy_mask(legacy)
    assert set(state) == {"encoder.mask.scale", "encoder.mask.threshold"}
    assert torch.allclose(state["encoder.mask.threshold"], torch.nn.functional.softplus(torch.tensor(-4.0)).expand(1, 4, 1))
    assert migrate_legacy_mask(state) is state


def test_dsl_loss_terms_each_measure_their_own_thing() -> None:
    full = torch.randn(2, 4, 8)
    masked = torch.randn(2, 3, 16)
    same = dsl_loss_terms(masked, full, full.clone(), torch.zeros(2, 2), 4)
    assert same["light"].item() == pytest.approx(0.0, abs=1e-6)
    assert same["switch"].item() == pytest.approx(0.0, abs=1e-6)
    assert same["compression"].item() == pytest.approx(masked.abs().mean().item())
    off = dsl_loss_terms(masked, full, full + 1.0, torch.zeros(2, 2), 4)
    actual = segment_discrepancy(full, full + 1.0, 4)
    eps = SWITCH_LOG_EPS  # the switch is fitted on a log scale
    expected = ((math.log(eps) - torch.log(actual + eps)) ** 2).mean().item()
    assert off["switch"].item() == pytest.approx(expected, rel=1e-5)
    # ... so a 10x error costs the same on a quiet segment as on a loud one
    quiet = dsl_loss_terms(masked, full, full + 0.01, torch.full((2, 2), 0.1), 4)["switch"].item()
    loud = dsl_loss_terms(masked, full, full + 1.0, torch.full((2, 2), 10.0), 4)["switch"].item()
    assert quiet == pytest.approx(loud, rel=0.01)
    # The light term trains the light path only: no gradient flows into the (teacher) full output, nor,
    # through the encoder, into the base and mask the light tail reads.
    codec = build_codec(CandidateConfig())
    out = codec.encoder(torch.randn(1, 1, 4 * codec.candidate.segment_samples))
    dsl_loss_terms(out.masked, out.full, out.light, out.predicted, codec.candidate.dsl.segment_frames)["light"].backward()
    assert all(p.grad is None for p in codec.encoder.base.parameters()) and codec.encoder.mask.scale.grad is None
    assert all(p.grad is not None for p in codec.encoder.light_tail.parameters())
    full_req = full.clone().requires_grad_(True)
    light_req = (full + 0.5).requires_grad_(True)
    dsl_loss_terms(masked, full_req, light_req, torch.zeros(2, 2), 4)["light"].backward()
    assert full_req.grad is None and light_req.grad is not None


def test_the_light_loss_weighs_each_segments_error_against_its_own_variation() -> None:
    """A 10% error costs the same on a quiet segment as on one varying 3x more; the loss stays in embedding
    units (an error of each segment's own variation costs the mean variation); digital silence, with no
    variation, weighs at most 1 / VARIATION_FLOOR times the average segment."""
    torch.manual_seed(0)
    shape = (1, 4, 2, 8)
    wiggle = torch.randn(shape)
    wiggle = wiggle - wiggle.mean(-1, keepdim=True)
    teacher = (wiggle * torch.tensor([0.3, 1.0]).reshape(1, 1, 2, 1)).reshape(1, 4, 16)  # quiet, loud
    variation = teacher.reshape(shape).abs().mean(dim=(1, 3))[0]
    noise = torch.sign(torch.randn(1, 4, 16))

    def err_on(segment: int, size: float) -> torch.Tensor:
        error = torch.zeros(1, 4, 2, 8)
        error[:, :, segment] = size * variation[segment]
        return teacher + noise * error.reshape(1, 4, 16)

    quiet, loud = relative_light_loss(err_on(0, 0.1), teacher, 8), relative_light_loss(err_on(1, 0.1), teacher, 8)
    assert quiet.item() == pytest.approx(loud.item(), rel=1e-5)
    both = relative_light_loss(teacher + noise * torch.cat([variation[0].expand(1, 4, 8), variation[1].expand(1, 4, 8)], -1), teacher, 8)
    assert both.item() == pytest.approx(variation.mean().item(), rel=1e-5)
    flat = torch.cat([torch.zeros(1, 4, 8), teacher[..., 8:]], -1)  # a segment of digital silence
    light = flat + torch.cat([torch.full((1, 4, 8), 1e-3), torch.zeros(1, 4, 8)], -1)  # 1e-3 off in the silence
    capped = relative_light_loss(light, flat, 8)
    assert capped.item() == pytest.approx(1e-3 / VARIATION_FLOOR / 2, rel=1e-5)  # weight 1 / floor, 1 of 2 segments


def test_routing_is_monotone_in_threshold() -> None:
    predicted = torch.rand(4, 50)
    usage = [route_light(predicted, t).float().mean().item() for t in torch.linspace(0, 1.1, 12)]
    assert usage == sorted(usage)
    assert usage[0] == 0.0 and usage[-1] == 1.0


def test_mix_by_segment_takes_light_exactly_where_routed() -> None:
    full, light = torch.zeros(1, 2, 6), torch.ones(1, 2, 6)
    mixed = mix_by_segment(full, light, torch.tensor([[True, False, True]]))
    assert mixed[0, 0].tolist() == [1, 1, 0, 0, 1, 1]


def test_switch_predicts_one_value_per_segment() -> None:
    switch = Switch(channels=3, hidden=4, frames_per_segment=5)
    assert switch(torch.randn(2, 3, 20)).shape == (2, 4)


def test_paper_preset_reconstructs_the_papers_parameter_counts() -> None:
    enc = build_codec(paper_candidate()).encoder
    encoder_params = params(enc.base) + params(enc.full_tail)
    assert 63_000 <= encoder_params <= 77_000  # "about 70k"
    assert abs(params(enc.full_tail) / 65_024 - 1) <= 0.10
    assert abs(params(enc.light_tail) / 3_104 - 1) <= 0.10


def test_insert_dsl_keeps_trained_weights_at_any_switch_depth() -> None:
    trained = build_codec(demo_candidate())
    state = trained.state_dict()
    moved = demo_candidate().with_dsl(switch_depth=1, light_widths=(4, 4, 4))
    codec = insert_dsl(moved, state)
    assert torch.equal(codec.encoder.blocks[2][0].conv.weight, trained.encoder.blocks[2][0].conv.weight)
    assert torch.equal(codec.decoder[0].weight, trained.decoder[0].weight)
    assert len(codec.encoder.full_tail) == len(trained.encoder.full_tail) + 1
    wrong = demo_candidate().model_copy(update={"encoder": demo_candidate().encoder.model_copy(update={"stem_channels": 4})})
    with pytest.raises(ValueError, match="does not fit"):
        insert_dsl(wrong, state)
