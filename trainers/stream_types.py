"""The streaming runtime's values: routes, tails, a streamed base, a run's result, and the counts taken from a
route pattern (switch-backs, warm replays). Torch is only needed by the caller's tensors.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dslnas.spaces.candidate import StatePolicy

if TYPE_CHECKING:
    import torch


class Route(str, enum.Enum):
    """How each segment's tail is chosen."""

    AUTO = "auto"      # the learned switch: light where predicted discrepancy < threshold
    FULL = "full"      # every segment full
    LIGHT = "light"    # every segment light
    ORACLE = "oracle"  # light where the actual discrepancy (both tails run for the segment) < threshold
    PATTERN = "pattern"  # a forced per-segment pattern (StreamingEncoder.run_pattern)


class Tail(str, enum.Enum):
    FULL = "full"
    LIGHT = "light"


@dataclass(frozen=True)
class BaseStream:
    """The routing-independent part of a streaming run (base, mask, switch), computed once per clip.

    ``masked``: per segment the mask's output ``[1, C_b, F_base]`` (F_base base frames per segment);
    ``predicted``: ``[S]`` the switch's predicted discrepancy per segment; ``mask_sparsity``: share of exact
    zeros in the masked activations over the clip, 0..1.
    """

    masked: tuple[torch.Tensor, ...]
    predicted: torch.Tensor
    mask_sparsity: float

    @property
    def segments(self) -> int:
        return len(self.masked)


@dataclass(frozen=True)
class StreamResult:
    """One streaming encoder run of a clip of S segments.

    ``embedding``: ``[1, D, T_emb]`` (``T_emb = S * segment_frames``), segment by segment from the tail that
    ran. ``use_light``: ``[S]`` bool, the route taken. ``predicted``: ``[S]`` switch prediction. ``actual``:
    ``[S]`` actual light-vs-full discrepancy under this run's states (oracle, or ``measure_actual``), else
    None. ``switch_backs``: light->full transitions. ``warmup_frames_full`` / ``warmup_frames_light``: masked
    base frames replayed into that tail under ``warm`` (0 otherwise), summed over the clip.
    """

    embedding: torch.Tensor
    use_light: torch.Tensor
    predicted: torch.Tensor
    actual: torch.Tensor | None
    mask_sparsity: float
    switch_backs: int
    warmup_frames_full: int
    warmup_frames_light: int
    route: Route
    state_policy: StatePolicy
    threshold: float

    @property
    def light_usage(self) -> float:
        """Share of segments routed light, 0..1."""
        return self.use_light.float().mean().item()

    @property
    def warmup_frames(self) -> int:
        """All base frames replayed for warm-ups (both tails)."""
        return self.warmup_frames_full + self.warmup_frames_light

    @property
    def warmup_frames_per_switch_back(self) -> float:
        """Base frames replayed into the full tail per light->full switch-back (0 with none)."""
        return self.warmup_frames_full / self.switch_backs if self.switch_backs else 0.0


def count_warm_replays(routes: Sequence[bool], warmup_frames: Mapping[Tail, int], base_frames_per_segment: int) -> dict[Tail, int]:
    """Masked base frames a ``warm`` run on the route pattern ``routes`` (True: light, per segment) replays into
    each tail: at a segment whose tail did not run in the previous one, its receptive field
    (``warmup_frames[tail]``), capped by the frames seen so far. The one replay count: the streaming runtime,
    the cost model (``hw_models.routing``) and a device's routed run (``hw_models.runners.routed``) use it."""
    replayed = {Tail.FULL: 0, Tail.LIGHT: 0}
    for s in range(1, len(routes)):
        if routes[s] != routes[s - 1]:
            tail = Tail.LIGHT if routes[s] else Tail.FULL
            replayed[tail] += min(warmup_frames[tail], s * base_frames_per_segment)
    return replayed


def count_switch_backs(use_light: torch.Tensor) -> int:
    """Light->full transitions in a ``[S]`` bool route pattern."""
    return int((use_light[:-1] & ~use_light[1:]).sum().item())
