"""Where each part of a front point runs, computed once from its priced record: the report's placement section.

On a multi-unit profile a trial's :class:`~dslnas.hw_models.cost.Cost` names the placement it was priced at
(``front@m33,light@m33,full@a32``), each part's latency and energy per inference on the unit that runs it,
the bytes crossing the link and the wake-ups per second of audio. From those, per point:

* each core's share of the mixed latency and dynamic energy per inference: a front part runs once per
  inference, the light tail ``light_usage + light replays`` times, the full tail ``1 - light_usage + full
  replays`` times (:meth:`RoutingSummary.replays_per_inference` as stored in ``replays_per_inference``);
* what the link and the wake-ups add: the rest of the priced mixed figure (``hw_models.placement``: per pass
  ``front + transfers + wake-up + tail``), so the shares and the rest sum to the priced mixed latency/energy;
* which front points use a compression weight alpha above :data:`ALPHA_PAYS_ABOVE`, and the sparsest of them
  beside its nearest front point (by light usage) with a smaller alpha: what the mask's sparsity bought;
* whether sparsity is what puts a point on the front: each sparse point against its dense twin
  (:mod:`.sparsity_twin`).

A one-unit profile has no placement (``Cost.placement`` empty): the section then says every part runs on that
unit. HTML rendering is ``placement_html``; this module has no HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dslnas.hw_models.counts import PATHS, Part
from dslnas.hw_models.cost import Cost
from dslnas.hw_models.placement import Placement
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.search.report.sparsity_twin import ALPHA_PAYS_ABOVE, SparsityTest, sparsity_test
from dslnas.spaces.errors import ConfigError


@dataclass(frozen=True)
class CoreLoad:
    """One compute unit's work in a point's mixed pass, per inference (one routing segment)."""

    unit: str
    parts: tuple[Part, ...]
    latency_ms: float
    energy_uj: float
    latency_share: float   # of the point's mixed latency per inference
    energy_share: float    # of the point's mixed dynamic energy per inference

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "parts": [p.value for p in self.parts], "latency_ms": self.latency_ms,
                "energy_uj": self.energy_uj, "latency_share": self.latency_share, "energy_share": self.energy_share}


@dataclass(frozen=True)
class PointPlacement:
    """A front point's placement: the unit of each part, each core's load, and what the link and wake-ups add."""

    trial: int
    placement: str
    unit_of_part: dict[Part, str]
    cores: tuple[CoreLoad, ...]          # the front's unit first
    part_latency_ms: dict[Part, float]   # per inference, mixed: the part's latency x its runs per inference
    part_energy_uj: dict[Part, float]    # per inference, mixed: the part's dynamic energy x its runs
    link_wake_latency_ms: float          # per inference: transfers, doorbells, wake-ups (the rest of the mixed latency)
    link_wake_energy_uj: float           # per inference: link bytes and wake-ups (the rest of the mixed energy)
    link_bytes_per_s: float
    wakeups_per_s: float
    alpha: float
    mask_sparsity: float
    light_usage: float
    latency_ms: float                    # mixed, per inference
    power_mw: float                      # mixed, at the deployment's rate

    def to_json(self) -> dict[str, Any]:
        return {"trial": self.trial, "placement": self.placement,
                "unit_of_part": {p.value: u for p, u in self.unit_of_part.items()},
                "cores": [c.to_json() for c in self.cores],
                "part_latency_ms": {p.value: v for p, v in self.part_latency_ms.items()},
                "part_energy_uj": {p.value: v for p, v in self.part_energy_uj.items()},
                "link_wake_latency_ms": self.link_wake_latency_ms,
                "link_wake_energy_uj": self.link_wake_energy_uj, "link_bytes_per_s": self.link_bytes_per_s,
                "wakeups_per_s": self.wakeups_per_s, "alpha": self.alpha, "mask_sparsity": self.mask_sparsity,
                "light_usage": self.light_usage, "latency_ms": self.latency_ms, "power_mw": self.power_mw}


@dataclass(frozen=True)
class AlphaEvidence:
    """Front points using alpha above :data:`ALPHA_PAYS_ABOVE`; the sparsest beside its nearest low-alpha point."""

    above: tuple[int, ...]                 # front trials with alpha > ALPHA_PAYS_ABOVE
    point: PointPlacement | None           # the sparsest of them
    neighbour: PointPlacement | None       # the front point with alpha <= ALPHA_PAYS_ABOVE nearest in light usage
    tried: tuple[int, ...] = ()            # trained trials (any, on the front or not) with alpha > ALPHA_PAYS_ABOVE

    @property
    def power_change_pct(self) -> float | None:
        """The point's mixed power against its neighbour's (%; negative: the sparse point draws less)."""
        if self.point is None or self.neighbour is None or not self.neighbour.power_mw:
            return None
        return 100.0 * (self.point.power_mw / self.neighbour.power_mw - 1.0)

    def to_json(self) -> dict[str, Any]:
        return {"alpha_above": ALPHA_PAYS_ABOVE, "front_trials_above": list(self.above), "trained_trials_above": list(self.tried),
                "point": None if self.point is None else self.point.trial,
                "neighbour": None if self.neighbour is None else self.neighbour.trial,
                "power_change_pct": self.power_change_pct}


@dataclass(frozen=True)
class FrontPlacement:
    """The placement section of a report: per front point (fastest first) and for the knee."""

    profile: str
    single_unit: str | None                # the one unit of a one-unit profile (then ``points`` is empty)
    points: tuple[PointPlacement, ...]
    shown: PointPlacement | None           # the point the diagram draws: the knee, else the fastest front point
    alpha: AlphaEvidence | None
    shown_is_knee: bool = False
    sparsity: SparsityTest | None = None   # the dense-twin test: is sparsity what puts a point on the front

    @property
    def multi_unit(self) -> bool:
        return self.single_unit is None

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "multi_unit": self.multi_unit, "single_unit": self.single_unit,
                "shown": None if self.shown is None else self.shown.trial, "shown_is_knee": self.shown_is_knee,
                "points": [p.to_json() for p in self.points],
                "alpha": None if self.alpha is None else self.alpha.to_json(),
                "sparsity_test": None if self.sparsity is None else self.sparsity.to_json()}


def parse_placement(name: str) -> Placement:
    """``front@m33,light@m33,full@a32`` (:attr:`Placement.name`) back into a :class:`Placement`."""
    try:
        stages = dict(item.split("@", 1) for item in name.split(","))
        return Placement(front=stages["front"], light=stages["light"], full=stages["full"])
    except (ValueError, KeyError):
        raise ConfigError(f"stored placement {name!r} is not of the form front@UNIT,light@UNIT,full@UNIT") from None


def runs_per_inference(cost: Cost, part: Part) -> float:
    """How often ``part`` runs per inference in the mixed pass: the front always, each tail on its routed
    share of segments plus the warm policy's replays into it."""
    usage = cost.routing.light_usage if cost.routing is not None else cost.light_usage
    replays = cost.replays_per_inference.get(part, 0.0)
    if part is Part.LIGHT_TAIL:
        return usage + replays
    if part is Part.FULL_TAIL:
        return 1.0 - usage + replays
    return 1.0


def point_placement(point: FrontPoint) -> PointPlacement | None:
    """``point``'s placement and core loads; None on a one-unit profile (no placement priced)."""
    return cost_placement(point.number, point.record.cost, point.record.candidate.dsl.alpha)


def cost_placement(trial: int, cost: Cost, alpha: float) -> PointPlacement | None:
    """The placement and core loads of one priced routing (``cost``); None on a one-unit profile."""
    if not cost.placement:
        return None
    placement = parse_placement(cost.placement)
    unit_of = {p: placement.unit_of(p) for p in PATHS}
    units = [placement.front, *sorted(placement.units - {placement.front})]
    ms = {p: cost.path_latency_ms.get(p, 0.0) * runs_per_inference(cost, p) for p in PATHS}
    uj = {p: 1e3 * cost.path_energy_mj.get(p, 0.0) * runs_per_inference(cost, p) for p in PATHS}
    total_ms, total_uj = cost.latency_ms.mixed, cost.energy_per_inference_uj.mixed
    cores = tuple(
        CoreLoad(u, tuple(p for p in PATHS if unit_of[p] == u), (lat := sum(ms[p] for p in PATHS if unit_of[p] == u)),
                 (en := sum(uj[p] for p in PATHS if unit_of[p] == u)), _share(lat, total_ms), _share(en, total_uj))
        for u in units)
    return PointPlacement(
        trial, cost.placement, unit_of, cores, ms, uj, total_ms - sum(ms.values()), total_uj - sum(uj.values()),
        cost.link_bytes_per_s, cost.wakeups_per_s, alpha, cost.routed_mask_sparsity,
        cost.routing.light_usage if cost.routing is not None else cost.light_usage, total_ms, cost.power_mw.mixed)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def alpha_evidence(points: tuple[PointPlacement, ...], tried: tuple[int, ...] = ()) -> AlphaEvidence:
    """Which front points use alpha > :data:`ALPHA_PAYS_ABOVE`; the sparsest beside its low-alpha neighbour;
    ``tried``: the trained trials using such an alpha."""
    above = [p for p in points if p.alpha > ALPHA_PAYS_ABOVE]
    below = [p for p in points if p.alpha <= ALPHA_PAYS_ABOVE]
    point = max(above, key=lambda p: (p.mask_sparsity, -p.trial), default=None)
    neighbour = None if point is None else min(
        below, key=lambda p: (abs(p.light_usage - point.light_usage), p.trial), default=None)
    return AlphaEvidence(tuple(sorted(p.trial for p in above)), point, neighbour, tried)


def front_placement(front: ParetoFront) -> FrontPlacement:
    """The placement section's value for ``front`` (its feasible non-dominated points, fastest first)."""
    if not front.points:
        return FrontPlacement(front.profile, None, (), None, None)
    first = front.points[0].record.cost
    test = sparsity_test(front)
    if not first.placement:
        return FrontPlacement(front.profile, first.unit, (), None, None, sparsity=test)
    ranked = sorted(front.pareto, key=lambda p: (p.record.latency_ms, p.number))
    placed = tuple(pp for pp in (point_placement(p) for p in ranked) if pp is not None)
    by_trial = {pp.trial: pp for pp in placed}
    tried = tuple(sorted({p.trained_trial for p in front.points if p.record.candidate.dsl.alpha > ALPHA_PAYS_ABOVE}))
    knee = by_trial.get(front.knee.number) if front.knee is not None else None
    return FrontPlacement(front.profile, None, placed, knee or (placed[0] if placed else None), alpha_evidence(placed, tried),
                          knee is not None, test)

