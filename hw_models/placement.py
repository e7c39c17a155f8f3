"""What each compute unit charges per part, and a placement of the parts on units priced under a routing.

A placement puts three *stages* on units of a :class:`DeviceProfile`: the ``front`` (base + mask + switch,
run for every segment), the ``light`` tail and the ``full`` tail. A one-unit profile has one placement, all
on that unit. When a tail runs on another unit than the front, each segment routed to it sends the mask
output across the profile's link and the embedding back. The mask's sparsity (fraction of exact zeros)
shrinks what is sent: a sparse map is sent as its non-zero fp32 values plus a 1-bit occupancy bitmap,
whenever that is smaller than the dense map.

Each unit prices the parts after its own rewrites: a unit that skips zero inputs runs each tail's first conv
on ``1 - mask_sparsity`` of its MACs; a unit that runs the quantizer adds its codeword search to the switch.

Per pass (full or light): ``latency = front + transfers + wake-up + tail`` (sequential), ``energy = front +
tail + link + wake-up`` (a unit running a tail away from the front sleeps between the segments routed to
it and is woken for each: the unit's ``wake_ms`` / ``wake_uj``; the message carries the link's
``header_bytes`` beside the masked map); mixed = usage-weighted mean (:func:`~dslnas.hw_models.routing.mix`) plus the warm policy's replays:
``r`` tail inferences per inference (:meth:`RoutingSummary.replays_per_inference`) add ``r`` times that
tail's latency and energy on its unit, and, for a tail on another unit, ``r`` transfers of the mask output
(replays ride in the resuming segment's message: bytes, no transfer of their own, no embedding back). Power = the static power of every unit the placement uses + energy *
inferences per second.
"""

from __future__ import annotations

import enum
import itertools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dslnas.hw_models.counts import BYTES_PER_ELEMENT, FRONT_PARTS, PATHS, TAIL_PARTS, EncoderCounts, Part
from dslnas.hw_models.footprint import provenance_text
from dslnas.hw_models.latency_model import latency_ms
from dslnas.hw_models.power_model import energy_per_inference_mj, power_mw
from dslnas.hw_models.profile import ComputeUnit, DeviceProfile, LinkSpec
from dslnas.hw_models.routing import PassFigures, RoutingSummary, mix
from dslnas.spaces.errors import ConfigError

if TYPE_CHECKING:
    import torch

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

    def unit_of(self, part: Part) -> str:
        """The unit that runs ``part``."""
        return {Part.FULL_TAIL: self.full, Part.LIGHT_TAIL: self.light}.get(part, self.front)


@dataclass(frozen=True)
class PlacementCost:
    """One placement's figures under one routing. ``link_bytes_per_inference``: bytes crossing the link per
    segment; ``path_latency_ms`` / ``path_energy_mj``: per inference, each part on the unit that runs it."""

    placement: Placement
    latency_ms: PassFigures
    power_mw: PassFigures
    energy_per_inference_uj: PassFigures
    link_bytes_per_inference: PassFigures
    path_latency_ms: dict[Part, float]
    path_energy_mj: dict[Part, float]
    wakeups_per_inference: PassFigures = PassFigures(0.0, 0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {"placement": self.placement.name, "latency_ms": self.latency_ms.to_json(),
                "power_mw": self.power_mw.to_json(), "link_bytes_per_inference": self.link_bytes_per_inference.to_json(),
                "wakeups_per_inference": self.wakeups_per_inference.to_json()}


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


def compare_placements(counts: EncoderCounts, profile: DeviceProfile, routing: RoutingSummary,
                       objective: PlacementObjective = PlacementObjective.POWER,
                       placements: tuple[Placement, ...] | None = None) -> PlacementReport:
    """Price ``placements`` (default: all) of counted parts under ``routing``, cheapest first."""
    priced = PlacementPricer(counts, profile, routing).ranked(placements or all_placements(profile), objective)
    return PlacementReport(profile.name, routing.light_usage, routing.mask_sparsity, objective, priced,
                           provenance_text(profile))


def unit_counts(counts: EncoderCounts, unit: ComputeUnit, mask_sparsity: float) -> EncoderCounts:
    """``counts`` as ``unit`` runs them: the tails' zero inputs skipped where it skips them, the quantizer in
    the switch part where it runs it."""
    if unit.skips_zero_inputs and mask_sparsity > 0:
        counts = with_sparse_tail_inputs(counts, mask_sparsity)
    if unit.runs_quantizer and counts.quantizer is not None:
        counts = with_quantizer_on_device(counts)
    return counts


def with_quantizer_on_device(counts: EncoderCounts) -> EncoderCounts:
    """``counts`` with the residual VQ's search in the switch part (it runs on every segment, either pass)."""
    assert counts.quantizer is not None
    switch = counts.paths[Part.SWITCH]
    with_vq = replace(switch, layers=(*switch.layers, counts.quantizer), params=switch.params + counts.quantizer.params)
    return replace(counts, paths={**counts.paths, Part.SWITCH: with_vq})


def with_sparse_tail_inputs(counts: EncoderCounts, mask_sparsity: float) -> EncoderCounts:
    """``counts`` with each tail's first conv doing ``1 - mask_sparsity`` of its MACs (zero inputs skipped)."""
    paths = dict(counts.paths)
    for tail in TAIL_PARTS:
        layers = list(paths[tail].layers)
        first = next((i for i, layer in enumerate(layers) if layer.op_type == "conv"), None)
        if first is not None:
            layers[first] = replace(layers[first], macs_per_inference=round(layers[first].macs_per_inference * (1 - mask_sparsity)))
            paths[tail] = replace(paths[tail], layers=tuple(layers))
    return replace(counts, paths=paths)


def path_latencies_ms(counts: EncoderCounts, unit: ComputeUnit, where: str) -> dict[Part, float]:
    """Latency per inference of each part on ``unit``; ConfigError when an op type has no coefficients."""
    unit.require_ops({layer.op_type for p in PATHS for layer in counts.paths[p].layers}, where)
    return {p: latency_ms(counts.paths[p].layers, unit.latency) for p in PATHS}


class PlacementPricer:
    """Per-unit part latencies and energies of one encoder under one routing, shared by all placements."""

    def __init__(self, counts: EncoderCounts, profile: DeviceProfile, routing: RoutingSummary) -> None:
        self.counts, self.profile, self.routing = counts, profile, routing
        self.ms: dict[str, dict[Part, float]] = {}
        self.mj: dict[str, dict[Part, float]] = {}
        self.cut_values = counts.cut_elements_per_inference
        self.cut_bytes = sent_bytes(self.cut_values, routing.mask_sparsity)
        self.back_bytes = BYTES_PER_ELEMENT * counts.embedding_elements_per_inference
        self.replays = routing.replays_per_inference(counts.base_frames_per_inference * counts.inferences_per_s)

    def on_unit(self, name: str) -> tuple[dict[Part, float], dict[Part, float]]:
        """(latency ms, energy mJ) per inference of each part on unit ``name``, computed once."""
        if name not in self.ms:
            unit = self.profile.unit(name)
            counts = unit_counts(self.counts, unit, self.routing.mask_sparsity)
            self.ms[name] = path_latencies_ms(counts, unit, f"profile '{self.profile.name}' (unit '{name}')")
            self.mj[name] = {p: energy_per_inference_mj(counts.paths[p].layers, self.ms[name][p], unit.power) for p in PATHS}
        return self.ms[name], self.mj[name]

    def ranked(self, placements: tuple[Placement, ...], objective: PlacementObjective) -> tuple[PlacementCost, ...]:
        """``placements`` priced, cheapest first by ``objective``'s mixed figure."""
        key = (lambda c: c.power_mw.mixed) if objective is PlacementObjective.POWER else (lambda c: c.latency_ms.mixed)
        return tuple(sorted((self.price(p) for p in placements), key=key))

    def price(self, placement: Placement) -> PlacementCost:
        for name in placement.units:
            self.on_unit(name)
        usage, rate = self.routing.light_usage, self.counts.inferences_per_s
        passes = {tail: self._pass(placement, tail) for tail in TAIL_PARTS}
        replay = [self._replay(placement, tail) for tail in TAIL_PARTS]
        extra_ms, extra_mj = sum(r[0] for r in replay), sum(r[1] for r in replay)
        latency = mix(passes[Part.FULL_TAIL][0], passes[Part.LIGHT_TAIL][0], usage)
        energy_mj = mix(passes[Part.FULL_TAIL][1], passes[Part.LIGHT_TAIL][1], usage)
        energy_mj = replace(energy_mj, mixed=energy_mj.mixed + extra_mj)
        static = sum(self.profile.units[u].power.static_mw for u in placement.units)
        return PlacementCost(
            placement, replace(latency, mixed=latency.mixed + extra_ms),
            PassFigures(*(power_mw(static, e, rate) for e in (energy_mj.full, energy_mj.light, energy_mj.mixed))),
            PassFigures(*(1e3 * e for e in (energy_mj.full, energy_mj.light, energy_mj.mixed))),
            _plus(mix(passes[Part.FULL_TAIL][2], passes[Part.LIGHT_TAIL][2], usage), sum(r[2] for r in replay)),
            {p: self.ms[placement.unit_of(p)][p] for p in PATHS}, {p: self.mj[placement.unit_of(p)][p] for p in PATHS},
            mix(*(float(placement.unit_of(t) != placement.front) for t in TAIL_PARTS), usage))

    def _pass(self, placement: Placement, tail: Part) -> tuple[float, float, float]:
        """(latency_ms, energy_mj, link_bytes) of one pass through ``tail``."""
        front_unit, tail_unit = placement.front, placement.unit_of(tail)
        ms = sum(self.ms[front_unit][p] for p in FRONT_PARTS) + self.ms[tail_unit][tail]
        mj = sum(self.mj[front_unit][p] for p in FRONT_PARTS) + self.mj[tail_unit][tail]
        if tail_unit == front_unit:
            return ms, mj, 0.0
        sent = self.cut_bytes + self._link(placement).header_bytes + self.back_bytes
        ms_link, mj_link = self._transfer(placement, sent, self.cut_values, transfers=2)
        unit = self.profile.units[tail_unit]  # asleep between the segments routed to it: woken for this one
        return ms + ms_link + unit.wake_ms, mj + mj_link + unit.wake_uj * 1e-3, float(sent)

    def _replay(self, placement: Placement, tail: Part) -> tuple[float, float, float]:
        """(latency_ms, energy_mj, link bytes) per inference of the warm replays into ``tail``; on another unit
        the replayed frames ride in the message of the segment that resumes the tail (bytes, no transfer)."""
        share = self.replays[tail]
        if not share:
            return 0.0, 0.0, 0.0
        unit = placement.unit_of(tail)
        ms, mj, sent = self.ms[unit][tail], self.mj[unit][tail], 0.0
        if unit != placement.front:
            ms_link, mj_link = self._transfer(placement, self.cut_bytes, self.cut_values, transfers=0)
            ms, mj, sent = ms + ms_link, mj + mj_link, float(self.cut_bytes)
        return share * ms, share * mj, share * sent

    def _transfer(self, placement: Placement, sent: int, values: int, transfers: int) -> tuple[float, float]:
        """(latency_ms, energy_mj) of sending ``sent`` bytes encoding ``values`` map values in ``transfers``
        transfers across the link."""
        link = self._link(placement)
        ms = transfers * link.per_transfer_ms + sent / link.bandwidth_bytes_per_s * 1e3 + values * link.per_value_ms
        return ms, link.pj_per_byte * sent * 1e-9 + link.busy_mw * ms * 1e-3  # mW x ms = uJ

    def _link(self, placement: Placement) -> LinkSpec:
        if self.profile.link is None:
            raise ConfigError(f"profile '{self.profile.name}' has no link, so placement {placement.name} cannot be priced")
        return self.profile.link


def _plus(figures: PassFigures, mixed_extra: float) -> PassFigures:
    return replace(figures, mixed=figures.mixed + mixed_extra)


def measure_mask_sparsity(encoder: "DSLEncoder", audio: "torch.Tensor") -> float:
    """Fraction of exact zeros in the mask output for ``audio: [B, 1, T]`` (T a multiple of the segment)."""
    import torch

    with torch.no_grad():
        masked = encoder.mask(encoder.base(audio))
    return float((masked == 0).float().mean())
