"""One segment's result on the ``unicorn-pair`` runner (its own module: the runner and the stream driving the
two emulated cores both use it)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dslnas.hw_models.runners.routed import PATH_FULL


@dataclass(frozen=True)
class PairSegment:
    """One segment on the pair: the path, instructions per part, bytes each way, whether the A32 woke, per part
    the cycles estimated on its core's machine model (empty when the runner counts at a CPI), and the values the
    mailbox encoded (the masked map and any replayed frames, zeros included: what both ends scan)."""

    path: int
    instructions: dict[str, int]
    mailbox_bytes: int
    back_bytes: int
    output: np.ndarray
    predicted: float
    cycles: dict[str, float] = field(default_factory=dict)
    mailbox_floats: int = 0

    @property
    def woke(self) -> bool:
        return self.path == PATH_FULL
