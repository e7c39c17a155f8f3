"""The Dynamic Switch Layer: Mask, Switch and the routing rule (paper section 2.2).

The lightweight path itself is an encoder tail (see ``trainers.encoder``); this module holds what sits at
the cut and the DSL loss terms.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Mask(nn.Module):
    """Compression layer: per-channel scale and learnable soft threshold. ``[B, C, T] -> [B, C, T]``.

    ``y = sign(s * x) * relu(|s * x| - t)`` with ``t = max(t_param, 0)`` in activation units: small
    activations become exact zeros, and the L1 term on ``y`` (weight alpha) pushes more of them there, so the
    activation map sent to the tails is sparse.

    A fresh mask is the exact identity (``s = 1``, ``t = 0``): inserted into a trained base, the full path is
    the base's own until alpha buys sparsity. (The first design, ``t = softplus(t_raw)`` from ``t_raw = -4``,
    started at t = 0.018 and cost the speech16k base up to 0.08 ViSQOL before any training; with Adam moving
    ``t_raw`` about lr a step, a short fine-tune also could not move t far from it, so alpha barely mattered.)
    In training the clamp passes its gradient straight through, so a threshold that alpha has not yet
    pushed above zero still feels the balance of the L1 and reconstruction terms there.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1, channels, 1))
        self.threshold = nn.Parameter(torch.zeros(1, channels, 1))

    def effective_threshold(self) -> torch.Tensor:
        """``[1, C, 1]`` threshold the forward pass applies (>= 0), what the C export and the device use."""
        clamped = F.relu(self.threshold)  # a relu, which every cost profile prices (a clamp is an op of its own)
        if not self.training:
            return clamped
        return self.threshold + (clamped - self.threshold).detach()  # straight-through below zero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = x * self.scale
        return torch.sign(scaled) * F.relu(scaled.abs() - self.effective_threshold())


LEGACY_THRESHOLD_SUFFIX = "mask.threshold_raw"
"""State-dict key of the first mask design's ``t_raw`` (threshold ``softplus(t_raw)``)."""


def migrate_legacy_mask(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with any first-design mask threshold (``...mask.threshold_raw``, applied as softplus of
    itself) rewritten as the current ``...mask.threshold`` it applied: the same forward pass, exactly."""
    if not any(k.endswith(LEGACY_THRESHOLD_SUFFIX) for k in state):
        return state
    return {(k[: -len("_raw")] if k.endswith(LEGACY_THRESHOLD_SUFFIX) else k):
            (F.softplus(v) if k.endswith(LEGACY_THRESHOLD_SUFFIX) else v) for k, v in state.items()}


class Switch(nn.Module):
    """Predicts, per routing segment, how far the light output will be from the full output.

    ``[B, C, T_base]`` masked features -> ``[B, n_segments]`` non-negative predicted discrepancy, where a
    segment is ``frames_per_segment`` base-rate frames (the caller pads T_base to a multiple).
    """

    def __init__(self, channels: int, hidden: int, frames_per_segment: int) -> None:
        super().__init__()
        self.frames_per_segment = frames_per_segment
        self.embed = nn.Conv1d(channels, hidden, 1)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, masked: torch.Tensor) -> torch.Tensor:
        batch, _, frames = masked.shape
        hidden = F.elu(self.embed(masked))
        segments = hidden.reshape(batch, hidden.shape[1], frames // self.frames_per_segment, -1)
        pooled = torch.cat([segments.mean(-1), segments.amax(-1)], dim=1)  # [B, 2H, S]
        return F.softplus(self.head(pooled.transpose(1, 2))).squeeze(-1)


def segment_discrepancy(full: torch.Tensor, light: torch.Tensor, frames_per_segment: int) -> torch.Tensor:
    """Actual L1 distance between two embeddings per segment, in embedding units.

    ``full, light: [B, D, T_emb]`` -> ``[B, n_segments]``: ``mean|full - light|`` over each segment's frames
    and channels (0 = identical). Deliberately not divided by the segment's own ``mean|full|``: quiet
    segments (silence) have small embeddings, so a per-segment relative distance blew their discrepancy up
    and the switch learned to rank silence *above* speech, the opposite of what routing needs. The absolute
    distance is what the quantizer and decoder see, the same scale for every segment of a codec.
    """
    batch, dim, frames = full.shape
    shape = (batch, dim, frames // frames_per_segment, frames_per_segment)
    return (full - light).abs().reshape(shape).mean(dim=(1, 3))


def route_light(predicted: torch.Tensor, threshold: float) -> torch.Tensor:
    """Bool ``[B, n_segments]``: True where the segment takes the light path (prediction below threshold)."""
    return predicted < threshold


def mix_by_segment(full: torch.Tensor, light: torch.Tensor, use_light: torch.Tensor) -> torch.Tensor:
    """Mixed embedding: per segment, light where ``use_light`` else full. ``[B, D, T] -> [B, D, T]``."""
    frames_per_segment = full.shape[-1] // use_light.shape[-1]
    mask = use_light.repeat_interleave(frames_per_segment, dim=-1).unsqueeze(1)
    return torch.where(mask, light, full)


VARIATION_FLOOR = 0.1
"""A segment's variation is floored at this share of the batch's mean, so a segment with (almost) none,
such as digital silence, weighs at most 1 / VARIATION_FLOOR times the average segment."""


def relative_light_loss(light: torch.Tensor, teacher: torch.Tensor, frames_per_segment: int) -> torch.Tensor:
    """The light path's distillation loss: per segment, ``mean|teacher - light|`` over its frames and channels
    divided by the teacher's own variation there (``mean|teacher - its mean over the segment's frames|``,
    floored at :data:`VARIATION_FLOOR` of the batch's mean), averaged and scaled back by the mean variation
    (so it stays in embedding units, near the plain L1). ``[B, D, T]`` pairs -> scalar.

    Why not the plain L1 (paper eq. 3): ViSQOL scores a quiet reference raised to a fixed level
    (``trainers.visqol_score``), so what it hears in silence is the error against silence's own small
    variation, while the plain L1 weighs it against speech's, about 3x larger in the speech16k embedding.
    Silence is where the light path has to be the full path's equal. On the speech16k base at depth 2,
    widths (8, 8), a depth-2 elastic bank and a 150-step demo trial, both on the plain L1 against both on
    this loss (a prototype with an absolute floor): silence light 1.84 -> 2.05 (full 2.10), the most silence
    routed light within 0.05 of full 18% -> 91% (speech 3% -> 9%), light speech 2.22 -> 1.73.
    """
    batch, dim, frames = teacher.shape
    shape = (batch, dim, frames // frames_per_segment, frames_per_segment)
    segments = teacher.detach().reshape(shape)
    variation = (segments - segments.mean(-1, keepdim=True)).abs().mean(dim=(1, 3))  # [B, S]
    floor = VARIATION_FLOOR * variation.mean()
    error = (teacher.detach() - light).abs().reshape(shape).mean(dim=(1, 3))
    return (error / (variation.clamp_min(floor) + 1e-12)).mean() * variation.mean()


SWITCH_LOG_EPS = 1e-4
"""Offset of the switch loss's log scale, in embedding units (well below a silence segment's discrepancy)."""


def dsl_loss_terms(
    masked: torch.Tensor,
    full: torch.Tensor,
    light: torch.Tensor,
    predicted: torch.Tensor,
    frames_per_segment: int,
) -> dict[str, torch.Tensor]:
    """The three DSL loss terms (paper eqs. 2-4), each a scalar.

    ``compression``: mean |masked activation| (L1, drives sparsity).
    ``light``: :func:`relative_light_loss` of the light output to the (detached) full output: the light path
    distils the full, each segment's error weighed against that segment's own variation.
    ``switch``: MSE of the predicted discrepancy against the actual (detached) one **on a log scale**
    (``log(x + SWITCH_LOG_EPS)``). On the linear scale the switch fitted the loud segments and left quiet ones
    at its softplus floor: silence's discrepancy is 10-40x below speech's, an MSE there is near zero, and the
    softplus gradient vanishes on the way down, so after a short fine-tune silence was predicted above speech
    segments it is far closer to. Routing only needs the ranking, which the log scale fits across classes.
    """
    actual = segment_discrepancy(full.detach(), light.detach(), frames_per_segment)
    return {
        "compression": masked.abs().mean(),
        "light": relative_light_loss(light, full.detach(), frames_per_segment),
        "switch": F.mse_loss(torch.log(predicted + SWITCH_LOG_EPS), torch.log(actual + SWITCH_LOG_EPS)),
    }
