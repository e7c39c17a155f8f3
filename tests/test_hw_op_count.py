"""Op counts: hand-computed ground truth for tiny networks, the paper preset, honest reporting of gaps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dslnas.hw_models.counts import PATHS
from dslnas.hw_models.op_count import EncoderCounts, count_candidate, count_module
from dslnas.spaces.presets import candidate_preset
from dslnas.trainers.blocks import CausalConv1d, ResidualUnit
from dslnas.trainers.codec import build_codec

F32 = 4  # bytes per fp32 element


@pytest.fixture(scope="module")
def paper_counts() -> EncoderCounts:
    return count_candidate(candidate_preset("paper"))


def test_causal_conv_counts_macs_params_pad_and_bytes() -> None:
    counts = count_module(CausalConv1d(2, 3, 5), torch.randn(1, 2, 100))
    pad, conv = counts.layers
    assert counts.macs_per_s == 2 * 3 * 5 * 100  # C_in * C_out * K per output frame, 100 frames
    assert counts.params == 2 * 3 * 5 + 3
    assert (pad.op_type, conv.op_type) == ("pad", "conv")
    assert pad.act_bytes_per_inference == F32 * (2 * 100 + 2 * 104)  # 4 samples of left pad
    assert conv.act_bytes_per_inference == F32 * (2 * 104 + 3 * 100)
    assert conv.params == 33 and pad.params == 0
    assert counts.layers_by_type == {"pad": 1, "conv": 1}


def test_strided_conv_counts_output_frames_only() -> None:
    counts = count_module(CausalConv1d(4, 8, 8, stride=4), torch.randn(1, 4, 64))
    assert counts.macs_per_s == 4 * 8 * 8 * (64 // 4)


def test_grouped_conv_divides_by_groups() -> None:
    counts = count_module(nn.Conv1d(8, 8, 3, groups=4, padding=1), torch.randn(1, 8, 20))
    assert counts.macs_per_s == 8 * 8 * 3 // 4 * 20


def test_transposed_conv_counts_input_frames_times_kernel() -> None:
    counts = count_module(nn.ConvTranspose1d(4, 2, 4, stride=2), torch.randn(1, 4, 10))
    assert counts.macs_per_s == 4 * 2 * 4 * 10
    assert counts.layers_by_type == {"conv_transpose": 1}


def test_residual_unit_counts_dilated_conv_pointwise_activations_and_add() -> None:
    channels, frames = 4, 50
    counts = count_module(ResidualUnit(channels, kernel=3, dilation=2), torch.randn(1, channels, frames))
    assert counts.macs_per_s == channels * channels * 3 * frames + channels * channels * frames
    assert counts.params == (channels * channels * 3 + channels) + (channels * channels + channels)
    assert counts.layers_by_type == {"elu": 2, "pad": 1, "conv": 2, "add": 1}
    assert counts.elementwise_ops_per_s == 3 * channels * frames  # two ELUs and the residual add
    assert counts.unsupported_ops == {}


def test_totals_scale_with_inferences_per_second() -> None:
    once = count_module(CausalConv1d(2, 2, 3), torch.randn(1, 2, 40))
    ten = count_module(CausalConv1d(2, 2, 3), torch.randn(1, 2, 40), inferences_per_s=10.0)
    assert ten.macs_per_s == 10 * once.macs_per_s
    assert ten.act_bytes_per_s == 10 * once.act_bytes_per_s
    assert ten.layers == once.layers  # the layer list stays per inference


class _Cumsum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(self.conv(x), dim=-1)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(2, 2, 1)


def test_an_op_nothing_can_price_is_reported_not_dropped() -> None:
    counts = count_module(_Cumsum(), torch.randn(1, 2, 8))
    assert counts.unsupported_ops == {"aten::cumsum": 1}
    assert counts.macs_per_s == 2 * 2 * 8  # what can be priced still is


def test_paper_preset_matches_hand_counts(paper_counts: EncoderCounts) -> None:
    full, light = paper_counts.paths["full"], paper_counts.paths["light"]
    assert (full.params, full.macs_per_s) == (64_704, 5_376_000)
    assert (light.params, light.macs_per_s) == (3_243, 429_600)
    assert paper_counts.encoder_params == 73_136 == paper_counts.paths["base"].params + full.params
    assert paper_counts.segment_samples == 3200 and paper_counts.inferences_per_s == 5.0
    assert paper_counts.unsupported_ops == {}


@pytest.mark.parametrize(("path", "params", "macs_per_s"), [("full", 65_024, 5.4e6), ("light", 3_104, 0.44e6)])
def test_paper_preset_within_the_papers_figures(paper_counts: EncoderCounts, path: str, params: int, macs_per_s: float) -> None:
    counts = paper_counts.paths[path]
    assert counts.params == pytest.approx(params, rel=0.10)
    assert counts.macs_per_s == pytest.approx(macs_per_s, rel=0.15)


def test_both_branches_are_priced_whatever_the_routing(paper_counts: EncoderCounts) -> None:
    full_only = count_candidate(candidate_preset("paper").with_dsl(threshold=0.0))
    assert full_only.paths["light"] == paper_counts.paths["light"]
    assert full_only.paths["full"] == paper_counts.paths["full"]


def test_mask_and_switch_ops_are_all_priced(paper_counts: EncoderCounts) -> None:
    assert set(paper_counts.paths["mask"].layers_by_type) == {"mul", "sign", "abs", "sub", "relu"}
    assert {"mean", "amax", "softplus", "elu", "linear"} <= set(paper_counts.paths["switch"].layers_by_type)
    assert paper_counts.paths["switch"].macs_per_s == 5 * (32 * 8 * 80 + 16)  # 1x1 embed + linear head


def test_a_built_codec_counts_like_its_candidate(paper_counts: EncoderCounts) -> None:
    assert count_candidate(build_codec(candidate_preset("paper"))).paths == paper_counts.paths


def test_json_has_the_describe_contract(paper_counts: EncoderCounts) -> None:
    payload = paper_counts.to_json()
    assert payload["encoder_params"] == 73_136
    assert set(payload["paths"]) == set(PATHS)
    for path in payload["paths"].values():
        assert {"params", "macs_per_s", "act_bytes_per_s", "layers_by_type"} <= set(path)
