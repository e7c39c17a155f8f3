"""The streaming program the C generator emits: typed layers lowered from the encoder's torch modules.

A :class:`Program` is what one call of ``dsl_process_segment`` runs: an optional base chain (stem and
blocks before the switch), an optional mask and switch head, and zero, one or two tails (``full`` = path 1,
``light`` = path 2). Each :class:`Chain` is a list of ops over a ``[C, T]`` stream: :class:`Conv` (causal,
strided, dilated; it keeps ``history_frames`` input frames as state), :class:`Elu` and :class:`Residual`
(``x + pointwise(elu(conv(elu(x))))``). Lowering accepts exactly the modules of ``trainers.blocks`` and
``trainers.dsl``; anything else is a :class:`CExportError` naming the module, never a silent gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dslnas.hw_models.counts import Part
from dslnas.spaces.errors import UserError
from dslnas.trainers.blocks import CausalConv1d, EncoderBlock, ResidualUnit
from dslnas.trainers.dsl import Mask, Switch

PATH_FULL, PATH_LIGHT = 1, 2  # the path ids dsl_process_segment returns (and takes as ``force``)


class CExportError(UserError):
    """A model the C export cannot lower, or a C build / run that failed."""


@dataclass(frozen=True, eq=False)
class Conv:
    """Causal conv ``[C_in, T] -> [C_out, T / stride]``; ``weight: [C_out, C_in, K]``, ``bias: [C_out]`` (float32)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    dilation: int = 1

    @property
    def c_out(self) -> int:
        return int(self.weight.shape[0])

    @property
    def c_in(self) -> int:
        return int(self.weight.shape[1])

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[2])

    @property
    def history_frames(self) -> int:
        """Input frames kept between calls: the causal left pad ``dilation * (K - 1) + 1 - stride``."""
        return self.dilation * (self.kernel - 1) + 1 - self.stride


@dataclass(frozen=True)
class Elu:
    """ELU with alpha 1, elementwise."""


@dataclass(frozen=True, eq=False)
class Residual:
    """``x + pointwise(elu(conv(elu(x))))``, ``[C, T] -> [C, T]``."""

    conv: Conv
    pointwise: Conv


Op = Conv | Elu | Residual


@dataclass(frozen=True, eq=False)
class Chain:
    """A sequence of ops over one stream; ``name`` is its C identifier stem, the value of the :class:`Part` it
    runs (``base``, ``full``, ``light``: ``dsl_chain_<name>``, ``hist_<name>``, weights ``<name>_<i>_conv``)."""

    name: str
    ops: tuple[Op, ...]
    c_in: int

    @property
    def c_out(self) -> int:
        convs = [op.pointwise if isinstance(op, Residual) else op for op in self.ops if not isinstance(op, Elu)]
        return convs[-1].c_out if convs else self.c_in

    @property
    def hop_frames(self) -> int:
        """Input frames per output frame (product of the strides)."""
        return math.prod(op.stride for op in self.ops if isinstance(op, Conv))

    def convs(self) -> list[Conv]:
        """Every conv in execution order (a residual's conv, then its pointwise)."""
        out: list[Conv] = []
        for op in self.ops:
            out += [op.conv, op.pointwise] if isinstance(op, Residual) else [op] if isinstance(op, Conv) else []
        return out

    def receptive_frames(self) -> int:
        """How many input frames before an aligned chunk the chunk's first output frame depends on."""
        index = 0  # first output frame, in the coordinates of each op's output, walking backwards
        for op in reversed(self.ops):
            if isinstance(op, Conv):
                index = index * op.stride - op.history_frames
            elif isinstance(op, Residual):
                index -= op.conv.history_frames
        return -index

    def warm_frames(self) -> int:
        """The receptive field rounded up to whole output frames (so a replay keeps the stride phase)."""
        hop = self.hop_frames
        return -(-self.receptive_frames() // hop) * hop


@dataclass(frozen=True, eq=False)
class MaskSpec:
    """``y = sign(s x) * relu(|s x| - t)`` per channel; ``threshold`` is max(t, 0), precomputed."""

    scale: np.ndarray
    threshold: np.ndarray


@dataclass(frozen=True, eq=False)
class SwitchSpec:
    """1x1 embed -> ELU -> mean and max over the segment -> linear ``[2H] -> 1`` -> softplus."""

    embed: Conv
    head_weight: np.ndarray  # [2H]: mean weights, then max weights
    head_bias: float


@dataclass(frozen=True, eq=False)
class Program:
    """One segment's work. ``in_frames``: input frames per segment (samples for audio); tails keyed by path id."""

    name: str
    in_channels: int
    in_frames: int
    base: Chain | None
    mask: MaskSpec | None
    switch: SwitchSpec | None
    tails: dict[int, Chain]
    sample_rate_hz: int | None = None  # the audio rate a whole encoder's input is at (None: unknown or not audio)

    @property
    def base_channels(self) -> int:
        return self.base.c_out if self.base else self.in_channels

    @property
    def base_frames(self) -> int:
        """Frames per segment after the base (what the mask, switch and tails see)."""
        return self.in_frames // (self.base.hop_frames if self.base else 1)

    @property
    def out_channels(self) -> int:
        return next(iter(self.tails.values())).c_out if self.tails else (0 if self.switch else self.base_channels)

    @property
    def out_frames(self) -> int:
        if self.tails:
            return self.base_frames // next(iter(self.tails.values())).hop_frames
        return 0 if self.switch else self.base_frames

    def check(self) -> None:
        """CExportError unless every stage divides the segment and the tails agree on their output."""
        chains = ([self.base] if self.base else []) + list(self.tails.values())
        for chain in chains:
            for conv in chain.convs():
                if conv.history_frames < 0:
                    raise CExportError(f"{chain.name}: conv with kernel {conv.kernel}, stride {conv.stride} and "
                                       f"dilation {conv.dilation} is not a causal conv emitting T / stride frames")
        if self.base and self.in_frames % self.base.hop_frames:
            raise CExportError(f"{self.in_frames} input frames per segment do not divide by the base hop "
                               f"{self.base.hop_frames}")
        if self.base and self.tails and not self.mask:
            raise CExportError("a program with a base and tails needs the mask between them")
        if len(self.tails) > 1 and not self.switch:
            raise CExportError("a program with two tails needs a switch to route between them")
        shapes = {(t.c_in, t.c_out, t.hop_frames) for t in self.tails.values()}
        if len(shapes) > 1:
            raise CExportError(f"the tails disagree on (input channels, output channels, hop): {sorted(shapes)}")
        for tail in self.tails.values():
            if tail.c_in != self.base_channels or self.base_frames % tail.hop_frames:
                raise CExportError(f"tail {tail.name} takes {tail.c_in} channels in hops of {tail.hop_frames}; "
                                   f"the base gives {self.base_channels} channels x {self.base_frames} frames")


def lower_chain(part: Part, modules: Iterable[nn.Module], c_in: int) -> Chain:
    """The ops of ``modules`` (the encoder's ``part``) run in sequence (Sequential / EncoderBlock children are
    flattened); the chain is named after the part (the one place a C identifier stem comes from)."""
    ops: list[Op] = []
    for module in modules:
        ops += _lower(module, f"{part.value}: ")
    return Chain(Part(part).value, tuple(ops), c_in)


def _lower(module: nn.Module, where: str) -> list[Op]:
    if isinstance(module, (nn.Sequential, EncoderBlock)):
        return [op for child in module for op in _lower(child, where)]
    if isinstance(module, ResidualUnit):
        return [Residual(lower_conv(module.conv, where), lower_conv(module.pointwise, where))]
    if isinstance(module, nn.ELU):
        if module.alpha != 1.0:
            raise CExportError(f"{where}ELU with alpha {module.alpha} (only alpha 1 is lowered)")
        return [Elu()]
    if isinstance(module, nn.Conv1d):
        return [lower_conv(module, where)]
    raise CExportError(f"{where}cannot lower a {type(module).__name__} to C")


def lower_conv(conv: nn.Conv1d, where: str = "") -> Conv:
    """A causal conv (``CausalConv1d``) or a plain pointwise ``Conv1d`` (kernel 1, no padding)."""
    plain_ok = conv.kernel_size[0] == 1 and conv.stride[0] == 1 and conv.padding in ((0,), "valid")
    if not isinstance(conv, CausalConv1d) and not plain_ok:
        raise CExportError(f"{where}a plain Conv1d must be pointwise (kernel 1, stride 1, no padding), got {conv}")
    if conv.groups != 1 or conv.bias is None or (isinstance(conv, CausalConv1d) and conv.padding != (0,)):
        raise CExportError(f"{where}only ungrouped convs with a bias and no built-in padding are lowered, got {conv}")
    return Conv(_array(conv.weight), _array(conv.bias), int(conv.stride[0]), int(conv.dilation[0]))


def lower_mask(mask: Mask) -> MaskSpec:
    return MaskSpec(_array(mask.scale).reshape(-1), _array(mask.effective_threshold()).reshape(-1))


def lower_switch(switch: Switch) -> SwitchSpec:
    embed = lower_conv(switch.embed, "switch: ")
    weight = _array(switch.head.weight).reshape(-1)
    if weight.size != 2 * embed.c_out:
        raise CExportError(f"switch head takes {weight.size} inputs, expected 2 x {embed.c_out}")
    return SwitchSpec(embed, weight, float(switch.head.bias.detach().reshape(-1)[0]))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().to(torch.float32).numpy())
