"""One threshold of a candidate's sweep: what the streaming evaluation measured there, and (once priced) what it
costs. The one sweep-point type: ``trainers.evaluate`` fills the measured part, ``search.points`` the price, a
trial record stores it. Torch-free, so records and reports read it without the training stack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SweepPoint:
    """The learned switch (or the oracle router) at ``threshold``: light usage and mixed ViSQOL overall and per
    class, switch-backs and warm replays per second of audio (pooled over clips), and the cost model's mixed
    ``latency_ms`` / ``power_mw`` under this routing (NaN until :meth:`priced`)."""

    threshold: float
    light_usage: float
    visqol_mixed: float
    light_usage_per_class: dict[str, float]
    visqol_mixed_per_class: dict[str, float]
    transitions_per_s: float = math.nan          # light->full switch-backs per second of audio
    warmup_frames_per_s: float = math.nan        # replayed base frames per second of audio
    warmup_frames_light_per_s: float = math.nan  # of those, replayed into the light tail
    latency_ms: float = math.nan                 # mixed pass, priced under this routing
    power_mw: float = math.nan                   # mixed pass, priced under this routing
    visqol_mixed_per_clip: tuple[float, ...] = ()  # [clips] in the evaluation's clip order (bootstrap intervals)
    light_usage_per_clip: tuple[float, ...] = ()   # [clips] share of each clip's segments routed light

    def priced(self, latency_ms: float, power_mw: float) -> "SweepPoint":
        """This point with its mixed-pass price."""
        return replace(self, latency_ms=latency_ms, power_mw=power_mw)
