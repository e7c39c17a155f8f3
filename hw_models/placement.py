"""Heterogeneous placement: which compute unit runs which part of a DSL encoder, and what it costs.

A placement puts three *stages* on units of a :class:`DeviceProfile`: the ``front`` (base + mask + switch,
run for every segment), the ``light`` tail and the ``full`` tail. When a tail runs on another unit than
the front, each segment routed to it sends the mask output across the profile's link and the embedding
back. The mask's sparsity (fraction of exact zeros) shrinks what is sent: a sparse map is sent as its
non-zero fp32 values plus a 1-bit occupancy bitmap, whenever that is smaller than the dense map.

Per pass (full or light): ``latency = front + transfers + tail`` (sequential), ``energy = front + tail +
link``; power = the static power of every unit the placement uses + energy * inferences per second;
mixed = usage-weighted mean, as in :mod:`dslnas.hw_models.cost`.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, replace
from typing import Any

import torch

from dslnas.hw_models.cost import FRONT, Cost, CostSummary, PassFigures, check_light_usage, mix, path_latencies_ms
from dslnas.hw_models.op_count import BYTES_PER_ELEMENT, EncoderCounts
from dslnas.hw_models.power_model import energy_per_inference_mj, power_mw
from dslnas.hw_models.footprint import provenance_text
from dslnas.hw_models.profile import DeviceProfile, LinkSpec
from dslnas.spaces.errors import ConfigError, UserError
from dslnas.trainers.encoder import DSLEncoder


class PlacementObjective(str, enum.Enum):
    """Which mixed-pass figure decides the cheapest placement."""

    POWER = "power"
    LATENCY = "latency"


@dataclass(frozen=True)
class Placement:
    """Unit names for the front (base + mask + switch), the light tail and the full tail."""

    front: str
    light: str
    full: str

    @property
    def name(self) -> str:
        return f"front@{self.front},light@{self.light},full@{self.full}"

    @property
    def units(self) -> frozenset[str]:
        return frozenset((self.front, self.light, self.full))


@dataclass(frozen=True)
class PlacementCost:
    """One placement's figures; ``link_bytes_per_inference``: bytes crossing the link per segment."""

    placement: Placement
    latency_ms: PassFigures
    power_mw: PassFigures
    link_bytes_per_inference: PassFigures

    def to_json(self) -> dict[str, Any]:
        return {"placement": self.placement.name, "latency_ms": self.latency_ms.to_json(),
                "power_mw": self.power_mw.to_json(), "link_bytes_per_inference": self.link_bytes_per_inference.to_json()}


@dataclass(frozen=True)
class PlacementReport:
    """Every placement priced, cheapest first by ``objective`` (the mixed-pass figure)."""

    profile: str
    light_usage: float
    mask_sparsity: float
    objective: PlacementObjective
    placements: tuple[PlacementCost, ...]
    provenance: str = ""   # how the profile was made ("ILLUSTRATIVE, not measured" for a32-a55-hetero)

    @property
    def cheapest(self) -> PlacementCost:
        return self.placements[0]

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "provenance": self.provenance, "light_usage": self.light_usage, "mask_sparsity": self.mask_sparsity,
                "objective": self.objective.value, "cheapest": self.cheapest.placement.name,
                "placements": [p.to_json() for p in self.placements]}


def sent_bytes(elements: int, sparsity: float) -> int:
    """fp32 bytes to send ``elements`` values of which a ``sparsity`` fraction are zero (dense or sparse)."""
    dense = BYTES_PER_ELEMENT * elements
    sparse = BYTES_PER_ELEMENT * math.ceil(elements * (1.0 - sparsity)) + math.ceil(elements / 8)
    return min(dense, sparse)


def all_placements(profile: DeviceProfile) -> tuple[Placement, ...]:
    """Every assignment of the three stages to the profile's units."""
    units = sorted(profile.units)
    return tuple(Placement(*combo) for combo in itertools.product(units, repeat=3))


def compare_placements(
    counts: EncoderCounts,
    profile: DeviceProfile,
    light_usage: float,
    mask_sparsity: float = 0.0,
    objective: PlacementObjective = PlacementObjective.POWER,
    placements: tuple[Placement, ...] | None = None,
) -> PlacementReport:
    """Price ``placements`` (default: all) of counted paths; ``mask_sparsity`` assumed 0 (dense) unless given."""
    check_light_usage(light_usage)
    if not 0.0 <= mask_sparsity <= 1.0:
        raise UserError(f"mask sparsity must be a fraction in [0, 1], got {mask_sparsity}")
    pricer = _Pricer(counts, profile, mask_sparsity)
    priced = [pricer.price(p, light_usage) for p in placements or all_placements(profile)]
    key = (lambda c: c.power_mw.mixed) if objective is PlacementObjective.POWER else (lambda c: c.latency_ms.mixed)
    return PlacementReport(profile.name, light_usage, mask_sparsity, objective, tuple(sorted(priced, key=key)),
                           provenance_text(profile))


class _Pricer:
    """Per-unit path latencies and energies of one encoder, computed once and shared by all placements."""

    def __init__(self, counts: EncoderCounts, profile: DeviceProfile, mask_sparsity: float) -> None:
        self.counts, self.profile = counts, profile
        self.ms: dict[str, dict[str, float]] = {}
        self.mj: dict[str, dict[str, float]] = {}
        for name, unit in profile.units.items():
            self.ms[name] = path_latencies_ms(counts, unit, f"profile '{profile.name}' (unit '{name}')")
            self.mj[name] = {p: energy_per_inference_mj(counts.paths[p].layers, self.ms[name][p], unit.power)
                             for p in self.ms[name]}
        self.cut_bytes = sent_bytes(counts.cut_elements_per_inference, mask_sparsity)
        self.back_bytes = BYTES_PER_ELEMENT * counts.embedding_elements_per_inference

    def price(self, placement: Placement, light_usage: float) -> PlacementCost:
        static = sum(self.profile.units[u].power.static_mw for u in placement.units)
        passes = {tail: self._pass(placement, tail) for tail in ("full", "light")}
        rate = self.counts.inferences_per_s
        latency = mix(passes["full"][0], passes["light"][0], light_usage)
        power = mix(*(power_mw(static, passes[t][1], rate) for t in ("full", "light")), light_usage)
        link = mix(passes["full"][2], passes["light"][2], light_usage)
        return PlacementCost(placement, latency, power, link)

    def _pass(self, placement: Placement, tail: str) -> tuple[float, float, float]:
        """(latency_ms, energy_mj, link_bytes) of one pass through ``tail``."""
        front_unit, tail_unit = placement.front, getattr(placement, tail)
        ms = sum(self.ms[front_unit][p] for p in FRONT) + self.ms[tail_unit][tail]
        mj = sum(self.mj[front_unit][p] for p in FRONT) + self.mj[tail_unit][tail]
        if tail_unit == front_unit:
            return ms, mj, 0.0
        link = self._link(placement)
        sent = self.cut_bytes + self.back_bytes
        ms += 2 * link.per_transfer_ms + sent / link.bandwidth_bytes_per_s * 1e3
        return ms, mj + link.pj_per_byte * sent * 1e-9, float(sent)

    def _link(self, placement: Placement) -> LinkSpec:
        if self.profile.link is None:
            raise ConfigError(f"profile '{self.profile.name}' has no link, so placement {placement.name} cannot be priced")
        return self.profile.link


def measure_mask_sparsity(encoder: DSLEncoder, audio: torch.Tensor) -> float:
    """Fraction of exact zeros in the mask output for ``audio: [B, 1, T]`` (T a multiple of the segment)."""
    with torch.no_grad():
        masked = encoder.mask(encoder.base(audio))
    return float((masked == 0).float().mean())


def at_best_placement(cost: Cost, profile: DeviceProfile, mask_sparsity: float,
                      objective: PlacementObjective = PlacementObjective.POWER) -> CostSummary:
    """What a search records for a candidate: on a profile of two or more units, priced at its cheapest
    placement (link bytes cut by the measured ``mask_sparsity``); on one unit, the cost as it is."""
    summary = cost.summary()
    if len(profile.units) < 2:
        return summary
    counts = cost.raw_counts or cost.counts  # each unit's own rewrites are not the default unit's
    best = compare_placements(counts, profile, cost.light_usage, mask_sparsity, objective).cheapest
    return replace(summary, latency_ms=best.latency_ms, power_mw=best.power_mw, placement=best.placement.name)
