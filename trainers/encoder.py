"""The encoder cut at the switch depth: base network, DSL (mask + switch), full tail and light tail.

Every part is its own module so that ``hw_models`` can price each path separately:
``base`` ``[B, 1, T] -> [B, C_b, T / hop_base]``; ``mask`` keeps that shape; ``switch`` maps it to
``[B, n_segments]``; ``full_tail`` and ``light_tail`` both map ``[B, C_b, T / hop_base] -> [B, D, T / hop]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from dslnas.spaces.candidate import CandidateConfig, EncoderArch
from dslnas.trainers.blocks import CausalConv1d, EncoderBlock
from dslnas.trainers.dsl import Mask, Switch, mix_by_segment, route_light


def build_tail(arch: EncoderArch, depth: int, widths: tuple[int, ...], kernel: int | None = None,
               dilations: tuple[int, ...] | None = None) -> nn.Sequential:
    """A tail of blocks ``depth..n_blocks-1`` plus the projection, at the given widths (the light path).

    ``widths[0]`` is the width the first residual units run at (a 1x1 entry conv adapts the base channels
    when they differ) and ``widths[j + 1]`` is the output width of tail block ``j``. ``kernel`` and
    ``dilations``: the residual units' kernel and dilations (None: the encoder's).
    """
    base_channels = arch.channels_after(depth)
    layers: list[nn.Module] = []
    if widths[0] != base_channels:
        layers.append(nn.Conv1d(base_channels, widths[0], 1))
    for j, block in enumerate(range(depth, arch.n_blocks)):
        layers.append(_block(arch, widths[j], widths[j + 1], block, kernel, dilations))
    layers += [nn.ELU(), CausalConv1d(widths[-1], arch.embedding_dim, arch.final_kernel)]
    return nn.Sequential(*layers)


def _block(arch: EncoderArch, in_ch: int, out_ch: int, index: int, kernel: int | None = None,
           dilations: tuple[int, ...] | None = None) -> EncoderBlock:
    return EncoderBlock(in_ch, out_ch, arch.block_strides[index], kernel or arch.residual_kernel,
                        arch.residual_dilations if dilations is None else dilations)


@dataclass(frozen=True)
class EncoderOutput:
    """Everything one encoder pass produces. Embeddings are ``[B, D, T_emb]``; per-segment values ``[B, S]``."""

    full: torch.Tensor
    light: torch.Tensor
    mixed: torch.Tensor
    masked: torch.Tensor        # [B, C_b, T_base] mask output
    predicted: torch.Tensor     # switch's predicted discrepancy
    use_light: torch.Tensor     # bool routing decision at the threshold used


class DSLEncoder(nn.Module):
    """SoundStream-style encoder with a Dynamic Switch Layer after block ``switch_depth - 1``."""

    def __init__(self, candidate: CandidateConfig) -> None:
        super().__init__()
        arch, dsl = candidate.encoder, candidate.dsl
        self.candidate = candidate
        # The full encoder is registered under names that do not depend on the switch depth, so a trained
        # codec's weights load into a candidate with the DSL anywhere (insert-and-fine-tune).
        self.stem = CausalConv1d(1, arch.stem_channels, arch.stem_kernel)
        self.blocks = nn.ModuleList(
            _block(arch, arch.channels_after(i), arch.block_channels[i], i) for i in range(arch.n_blocks)
        )
        self.head = nn.Sequential(nn.ELU(), CausalConv1d(arch.block_channels[-1], arch.embedding_dim, arch.final_kernel))
        depth = dsl.switch_depth
        self.mask = Mask(arch.channels_after(depth))
        base_hop = math.prod(arch.block_strides[:depth])
        self.base_frames_per_segment = candidate.segment_samples // base_hop
        self.switch = Switch(arch.channels_after(depth), dsl.switch_hidden, self.base_frames_per_segment)
        self.light_tail = build_tail(arch, depth, dsl.light_widths, candidate.light_kernel, candidate.light_dilations)

    @property
    def base(self) -> nn.Sequential:
        """Stem and blocks before the switch (an unregistered view over the registered modules)."""
        return nn.Sequential(self.stem, *self.blocks[: self.candidate.dsl.switch_depth])

    @property
    def full_tail(self) -> nn.Sequential:
        """Blocks after the switch and the projection to the embedding (unregistered view)."""
        return nn.Sequential(*self.blocks[self.candidate.dsl.switch_depth :], *self.head)

    def forward(self, audio: torch.Tensor, threshold: float | None = None) -> EncoderOutput:
        """``audio: [B, 1, T]`` with T a multiple of ``candidate.segment_samples``.

        The light tail reads the masked features detached, as the switch does: ``L_light`` trains the light
        tail only and does not shape the features both paths share. (With the per-segment relative
        ``L_light``, its gradient into the base destabilised base training from scratch: the demo codec's
        held-out loss rose from 3.5 to 4.3 over 55 steps instead of falling.)"""
        if audio.shape[-1] % self.candidate.segment_samples:
            raise ValueError(
                f"input length {audio.shape[-1]} is not a multiple of the segment ({self.candidate.segment_samples})"
            )
        masked = self.mask(self.base(audio))
        predicted = self.switch(masked.detach())  # the switch reads the features; its loss does not shape them
        full, light = self.full_tail(masked), self.light_tail(masked.detach())  # L_light trains the light tail only
        tau = self.candidate.dsl.threshold if threshold is None else threshold
        use_light = route_light(predicted, tau)
        return EncoderOutput(full, light, mix_by_segment(full, light, use_light), masked, predicted, use_light)
