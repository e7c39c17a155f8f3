"""Explicit causal state for running the encoder's convolutions chunk by chunk (the streaming runtime's core).

A module tree of the encoder (``CausalConv1d``, ``ResidualUnit``, ``EncoderBlock`` / ``nn.Sequential``,
``nn.ELU``, 1x1 ``nn.Conv1d``, ``Mask``) compiles into a :class:`StreamOp` tree that runs on one chunk at a
time: each causal conv keeps a history tensor holding exactly the input frames it needs from the past,
``dilation * (kernel - 1) + 1 - stride`` of them (the offline left pad; a strided conv with kernel
``2 * stride`` keeps ``stride``), and runs on ``[history ++ new frames]`` with no padding. A zero history is
the offline zero pad, so a stream started from :meth:`StreamOp.initial_state` reproduces the offline module.

States are immutable (nested tuples of tensors, never written in place): keeping or dropping a state is how
a caller commits or discards a step. A chunk's length must be a multiple of the op's total stride.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from dslnas.trainers.blocks import CausalConv1d, ResidualUnit
from dslnas.trainers.dsl import Mask

State = Any
"""A nested tuple of history tensors (``[B, C_in, history]`` per conv); ``()`` for a stateless op."""


class StreamOp(ABC):
    """One layer (or a composition of layers) that runs chunk by chunk with explicit causal state."""

    @property
    @abstractmethod
    def stride(self) -> int:
        """Input frames per output frame."""

    @abstractmethod
    def initial_state(self, like: torch.Tensor) -> State:
        """The zero history (the offline zero pad), on ``like``'s batch size, device and dtype (any width)."""

    @abstractmethod
    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``x: [B, C_in, L]`` new frames (L a multiple of :attr:`stride`) -> ``[B, C_out, L / stride]``, new state."""

    @abstractmethod
    def history_need(self, frames_after: int) -> int:
        """Input frames before a chunk that must be exact so that the output, and ``frames_after`` frames of
        output history before the chunk, are exact (backward receptive-field recursion)."""


@dataclass(frozen=True)
class StreamConv(StreamOp):
    """A :class:`CausalConv1d` on ``[history ++ x]`` without padding; the history is its last ``pad`` inputs."""

    conv: CausalConv1d

    @property
    def stride(self) -> int:
        return self.conv.stride[0]

    @property
    def history_frames(self) -> int:
        """Past input frames this conv keeps: ``dilation * (kernel - 1) + 1 - stride``."""
        return self.conv.dilation[0] * (self.conv.kernel_size[0] - 1) + 1 - self.stride

    def initial_state(self, like: torch.Tensor) -> State:
        return like.new_zeros(like.shape[0], self.conv.in_channels, self.history_frames)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        window = torch.cat([state, x], dim=-1)
        c = self.conv
        out = F.conv1d(window, c.weight, c.bias, stride=c.stride, dilation=c.dilation, groups=c.groups)
        return out, window[..., window.shape[-1] - self.history_frames :]

    def history_need(self, frames_after: int) -> int:
        return frames_after * self.stride + self.history_frames


@dataclass(frozen=True)
class Stateless(StreamOp):
    """A frame-wise module (ELU, 1x1 conv, Mask): called as the module itself, no history."""

    module: nn.Module

    @property
    def stride(self) -> int:
        return 1

    def initial_state(self, like: torch.Tensor) -> State:
        return ()

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.module(x), ()

    def history_need(self, frames_after: int) -> int:
        return frames_after


@dataclass(frozen=True)
class Chain(StreamOp):
    """Ops applied in order; the state is the tuple of their states."""

    ops: tuple[StreamOp, ...]

    @property
    def stride(self) -> int:
        stride = 1
        for op in self.ops:
            stride *= op.stride
        return stride

    def initial_state(self, like: torch.Tensor) -> State:
        return tuple(op.initial_state(like) for op in self.ops)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        new_states = []
        for op, op_state in zip(self.ops, state, strict=True):
            x, op_state = op.step(x, op_state)
            new_states.append(op_state)
        return x, tuple(new_states)

    def history_need(self, frames_after: int) -> int:
        for op in reversed(self.ops):
            frames_after = op.history_need(frames_after)
        return frames_after


@dataclass(frozen=True)
class StreamResidual(StreamOp):
    """:class:`ResidualUnit` ``x + pointwise(elu(conv(elu(x))))`` with the dilated conv streamed."""

    unit: ResidualUnit
    conv: StreamConv

    @property
    def stride(self) -> int:
        return 1

    def initial_state(self, like: torch.Tensor) -> State:
        return self.conv.initial_state(like)

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        hidden, state = self.conv.step(F.elu(x), state)
        return x + self.unit.pointwise(F.elu(hidden)), state

    def history_need(self, frames_after: int) -> int:
        return max(frames_after, self.conv.history_need(frames_after))


def compile_stream(module: nn.Module) -> StreamOp:
    """The streaming form of an encoder module tree. Raises TypeError on a module it cannot stream."""
    if isinstance(module, CausalConv1d):
        conv = StreamConv(module)
        if module.padding != (0,) or conv.history_frames < 0:
            raise TypeError(f"cannot stream {module}: needs padding=0 and dilation*(kernel-1)+1 >= stride")
        return conv
    if isinstance(module, ResidualUnit):
        return StreamResidual(module, StreamConv(module.conv))
    if isinstance(module, nn.Sequential):
        return Chain(tuple(compile_stream(child) for child in module))
    if isinstance(module, (nn.ELU, Mask)):
        return Stateless(module)
    if type(module) is nn.Conv1d and _is_pointwise(module):
        return Stateless(module)
    raise TypeError(f"cannot stream module {type(module).__name__}: {module}")


def _is_pointwise(conv: nn.Conv1d) -> bool:
    return conv.kernel_size == (1,) and conv.stride == (1,) and conv.padding == (0,) and conv.dilation == (1,)


def warmup_frames(op: StreamOp) -> int:
    """Input frames a zero-state replay must cover so the op's next chunk equals the offline output.

    The backward receptive-field need (:meth:`StreamOp.history_need`), rounded up to a multiple of the op's
    stride so that the replay starts in phase with every strided conv.
    """
    need, stride = op.history_need(0), op.stride
    return -(-need // stride) * stride
