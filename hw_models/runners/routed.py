"""A routed C export streamed over audio on a device, segment by segment, with automatic routing.

A :class:`RoutedRunner` (the runner ABC's routed extension) implements ``run_routed(info, segments) ->
RoutedRun``: the ``local`` runner compiles the export with the host gcc and times each segment;
``unicorn-arm`` counts each segment's instructions on the emulated Cortex-A32. This is the deployed
execution: the switch decides, only one tail runs, a ``warm`` resume replays its receptive field.
:meth:`RoutedRun.routing` says what the run did as the cost model prices it (``hw_models.routing``), its
replays counted as the streaming runtime counts them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dslnas.hw_models.routing import RoutingSummary
from dslnas.hw_models.runners.base import DeviceRunner

if TYPE_CHECKING:
    from dslnas.hw_models.c_export import CExportInfo

PATH_FULL, PATH_LIGHT = 1, 2  # as c_export's dsl_process_segment reports them


@dataclass(frozen=True)
class RoutedRun:
    """``paths``: the path each segment took; ``latency_ms``: per segment as routed (replays included);
    ``extra``: what the device adds (the emulated core's instruction counts, clock and CPI; the host's
    repeats)."""

    paths: tuple[int, ...]
    latency_ms: tuple[float, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def routes(self) -> tuple[bool, ...]:
        """Per segment, whether it took the light path."""
        return tuple(p == PATH_LIGHT for p in self.paths)

    @property
    def light_usage(self) -> float:
        return sum(self.routes) / len(self.paths)

    @property
    def switch_backs(self) -> int:
        """Light -> full transitions."""
        return sum(a == PATH_LIGHT and b == PATH_FULL for a, b in zip(self.paths, self.paths[1:]))

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q))

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.latency_ms))

    def routing(self, segment_s: float, mask_sparsity: float, warmup_frames: Mapping[Any, int] | None,
                base_frames_per_segment: int) -> RoutingSummary:
        """This run as priced: its light usage and switch-backs over ``len(paths) * segment_s`` seconds, the
        ``mask_sparsity`` it ran with, and, under the ``warm`` policy (``warmup_frames``: each tail's receptive
        field in base frames, ``trainers.streaming.StreamingEncoder.warmup_frames``; None for ``reset`` /
        ``stale``), the replays the streaming runtime counts on this route pattern."""
        from dslnas.trainers.streaming import Tail, count_warm_replays

        replayed: Mapping[Any, int] = ({t: 0 for t in Tail} if warmup_frames is None else
                                       count_warm_replays(self.routes, warmup_frames, base_frames_per_segment))
        return RoutingSummary.from_counts(self.light_usage, mask_sparsity, len(self.paths) * segment_s,
                                          self.switch_backs, replayed)


class RoutedRunner(DeviceRunner):
    """A runner that also streams a whole routed program (a ``c_export`` build) over audio."""

    @abstractmethod
    def run_routed(self, info: "CExportInfo", segments: np.ndarray) -> RoutedRun:
        """Build ``info``'s export for the device and stream ``segments`` ``[S, in_floats]`` float32 audio through
        it in order with automatic routing. Raises ``CExportError`` / ``MeasurementError`` naming the export."""
