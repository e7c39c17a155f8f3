"""A routed C export streamed over audio on a device, segment by segment, with automatic routing.

Runners whose ``runs_routed_programs`` is True implement ``run_routed(info, segments) -> RoutedRun``: the
``local`` runner compiles the export with the host gcc and times each segment; ``unicorn-arm`` counts each
segment's instructions on the emulated Cortex-A32. This is the deployed execution: the switch decides,
only one tail runs, a ``warm`` switch-back replays its receptive field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    def light_usage(self) -> float:
        return sum(p == PATH_LIGHT for p in self.paths) / len(self.paths)

    @property
    def switch_backs(self) -> int:
        """Light -> full transitions."""
        return sum(a == PATH_LIGHT and b == PATH_FULL for a, b in zip(self.paths, self.paths[1:]))

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q))

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.latency_ms))
