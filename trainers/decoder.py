"""Causal decoder mirroring the encoder: ``[B, D, T / hop] -> [B, 1, T]``."""

from __future__ import annotations

import torch
from torch import nn

from dslnas.spaces.candidate import CandidateConfig, DecoderUpsample
from dslnas.trainers.blocks import CausalConv1d, DecoderBlock


class Decoder(nn.Sequential):
    """Projection conv, one :class:`DecoderBlock` per encoder block in reverse, output conv and tanh.

    Channel widths mirror the encoder's, scaled by ``candidate.decoder_channel_mult``; each block upsamples
    as ``candidate.decoder_upsample`` says (the decoder does not run on the device, so it may be wider and
    built differently from the encoder at no cost in the cost model).
    """

    def __init__(self, candidate: CandidateConfig) -> None:
        arch = candidate.encoder
        widths = [max(1, round(c * candidate.decoder_channel_mult)) for c in (arch.stem_channels, *arch.block_channels)]
        repeat = DecoderUpsample(candidate.decoder_upsample) is DecoderUpsample.REPEAT
        layers: list[nn.Module] = [CausalConv1d(arch.embedding_dim, widths[-1], 7)]
        for i in reversed(range(arch.n_blocks)):
            layers.append(
                DecoderBlock(widths[i + 1], widths[i], arch.block_strides[i], arch.residual_kernel, arch.residual_dilations,
                         repeat=repeat)
            )
        layers += [nn.ELU(), CausalConv1d(widths[0], 1, 7), nn.Tanh()]
        super().__init__(*layers)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:  # noqa: D102 - shapes in class docstring
        return super().forward(embedding)
