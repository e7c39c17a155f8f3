"""Causal building blocks of the SoundStream-style codec.

All convolutions are causal: output frame ``t`` depends only on input up to the end of frame ``t``, so an
encoder can run on a stream. Shapes are ``[B, C, T]`` throughout.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CausalConv1d(nn.Conv1d):
    """Conv1d with left padding only. ``[B, C_in, T] -> [B, C_out, T // stride]`` for T divisible by stride.

    The left pad is ``dilation * (kernel - 1) + 1 - stride`` (at least 0), so a strided conv emits exactly
    ``T / stride`` frames and frame ``t`` sees input samples ``<= (t + 1) * stride - 1``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = max(self.dilation[0] * (self.kernel_size[0] - 1) + 1 - self.stride[0], 0)
        return super().forward(F.pad(x, (pad, 0)))


class CausalConvTranspose1d(nn.ConvTranspose1d):
    """Transposed conv that trims the look-ahead tail. ``[B, C_in, T] -> [B, C_out, T * stride]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out[..., : x.shape[-1] * self.stride[0]]


class ResidualUnit(nn.Module):
    """ELU -> dilated causal conv (kernel k) -> ELU -> 1x1 conv, plus the input. ``[B, C, T] -> [B, C, T]``."""

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = CausalConv1d(channels, channels, kernel, dilation=dilation)
        self.pointwise = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pointwise(F.elu(self.conv(F.elu(x))))


class EncoderBlock(nn.Sequential):
    """Residual units at the input width, then a strided conv to ``out_channels`` (kernel ``2 * stride``).

    ``[B, C_in, T] -> [B, C_out, T / stride]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, kernel: int, dilations: tuple[int, ...]
    ) -> None:
        units = [ResidualUnit(in_channels, kernel, d) for d in dilations]
        super().__init__(*units, nn.ELU(), CausalConv1d(in_channels, out_channels, 2 * stride, stride=stride))


class RepeatUpsample(nn.Sequential):
    """Nearest-neighbour hold by ``stride``, then a causal conv (kernel ``2 * stride``).

    ``[B, C_in, T] -> [B, C_out, T * stride]``. The hold's response is zero at every multiple of the input
    frame rate, so, unlike a transposed conv, it leaves no imaging tones there. Causal: output sample ``n``
    sees input frames ``<= n // stride``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(nn.Upsample(scale_factor=stride, mode="nearest"), CausalConv1d(in_channels, out_channels, 2 * stride))


class DecoderBlock(nn.Sequential):
    """Mirror of :class:`EncoderBlock`: upsampling by ``stride`` (strided transposed conv, or
    :class:`RepeatUpsample` with ``repeat=True``), then residual units.

    ``[B, C_in, T] -> [B, C_out, T * stride]``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, kernel: int, dilations: tuple[int, ...],
        repeat: bool = False,
    ) -> None:
        up = (RepeatUpsample(in_channels, out_channels, stride) if repeat
              else CausalConvTranspose1d(in_channels, out_channels, 2 * stride, stride=stride))
        units = [ResidualUnit(out_channels, kernel, d) for d in dilations]
        super().__init__(nn.ELU(), up, *units)
