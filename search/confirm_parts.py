"""A routed run on a two-core runner (``unicorn-pair``), part by part: predicted vs measured latency and energy
per segment for the front (base + mask + switch), each tail and the link, as ``confirm`` stores and prints them.

The prediction is the cost model's mixed pass under the measured routing, split as the report splits it
(``search.report.placement.cost_placement``: each part's latency x its runs per segment; the link and the
wake-ups are the rest of the priced figure). The measured side is the runner's mean per segment
(``RoutedRun.extra["ms_per_part_mean"]``): ``front``, ``light``, ``full`` as they are; the link is the mailbox
encode on the front's core, the decode on the tail's, the doorbells and the wake-ups, since the pair profile's
link is fitted on those (``docs/placement.md``). Measured energy is the runner's stand-in active power x each
part's busy time, plus the link's bytes and the wake-ups (no power measurement exists on an emulator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslnas.hw_models.cost import Cost
from dslnas.hw_models.counts import FRONT_PARTS, Part
from dslnas.search.records import error_pct
from dslnas.search.report.placement import cost_placement

LINK = "link"
PRICED_PARTS = ("front", Part.LIGHT_TAIL.value, Part.FULL_TAIL.value, LINK)
LINK_MEASURED = ("encode", "decode", "link", "wake")  # the runner's parts the profile's link and wake-up price
M33_PARTS, A32_PARTS = ("front", "light", "encode"), ("decode", "full")


@dataclass(frozen=True)
class PartCheck:
    """One priced part of a routed run, per segment: predicted vs measured latency (ms) and energy (uJ)."""

    part: str
    predicted_ms: float
    measured_ms: float
    predicted_uj: float
    measured_uj: float

    @property
    def error_pct(self) -> float | None:
        return error_pct(self.measured_ms, self.predicted_ms)

    @property
    def energy_error_pct(self) -> float | None:
        return error_pct(self.measured_uj, self.predicted_uj)

    def to_json(self) -> dict[str, Any]:
        return {"part": self.part, "predicted_ms": self.predicted_ms, "measured_ms": self.measured_ms,
                "error_pct": self.error_pct, "predicted_uj": self.predicted_uj, "measured_uj": self.measured_uj,
                "energy_error_pct": self.energy_error_pct}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PartCheck":
        return cls(data["part"], data["predicted_ms"], data["measured_ms"], data["predicted_uj"], data["measured_uj"])

    def text(self) -> str:
        def pct(v: float | None) -> str:
            return "n/a" if v is None else f"{v:+.1f}%"
        return (f"{self.part} {self.measured_ms:.3f} vs {self.predicted_ms:.3f} ms ({pct(self.error_pct)}), "
                f"{self.measured_uj:.2f} vs {self.predicted_uj:.2f} uJ ({pct(self.energy_error_pct)})")


def predicted_parts(cost: Cost) -> dict[str, tuple[float, float]] | None:
    """Per priced part, (ms, uJ) per segment of ``cost``'s mixed pass; None on a one-unit profile."""
    placed = cost_placement(0, cost, 0.0)
    if placed is None:
        return None
    ms, uj = placed.part_latency_ms, placed.part_energy_uj
    return {"front": (sum(ms[p] for p in FRONT_PARTS), sum(uj[p] for p in FRONT_PARTS)),
            Part.LIGHT_TAIL.value: (ms[Part.LIGHT_TAIL], uj[Part.LIGHT_TAIL]),
            Part.FULL_TAIL.value: (ms[Part.FULL_TAIL], uj[Part.FULL_TAIL]),
            LINK: (placed.link_wake_latency_ms, placed.link_wake_energy_uj)}


def measured_parts(extra: dict[str, Any]) -> dict[str, tuple[float, float]] | None:
    """Per priced part, (ms, uJ) per segment measured by a pair runner; None when ``extra`` has no per-part means."""
    ms = extra.get("ms_per_part_mean")
    stand_ins = extra.get("stand_ins")
    if not isinstance(ms, dict) or not isinstance(stand_ins, dict):
        return None
    m33, a32 = stand_ins["m33_active_mw"], stand_ins["a32_active_mw"]
    wakes = extra["wakeups"] / extra["segments"] if extra.get("segments") else 0.0
    link_uj = (m33 * ms["encode"] + a32 * ms["decode"] + stand_ins["wake_uj"] * wakes
               + 1e-6 * stand_ins["link_pj_per_byte"] * extra["link_bytes_per_segment_mean"])
    return {"front": (ms["front"], m33 * ms["front"]), Part.LIGHT_TAIL.value: (ms["light"], m33 * ms["light"]),
            Part.FULL_TAIL.value: (ms["full"], a32 * ms["full"]), LINK: (sum(ms[p] for p in LINK_MEASURED), link_uj)}


def part_checks(cost: Cost, extra: dict[str, Any]) -> tuple[PartCheck, ...]:
    """Predicted vs measured per priced part; empty when either side is missing (a one-unit runner or profile)."""
    predicted, measured = predicted_parts(cost), measured_parts(extra)
    if predicted is None or measured is None:
        return ()
    return tuple(PartCheck(p, predicted[p][0], measured[p][0], predicted[p][1], measured[p][1]) for p in PRICED_PARTS)
