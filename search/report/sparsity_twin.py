"""Whether the mask's sparsity is what puts a point on the front: each sparse point priced again as its dense twin.

A feasible point whose candidate uses a compression weight alpha above
:data:`ALPHA_PAYS_ABOVE` and whose mask left exact zeros is priced again on the
study's profile under the same routing with a dense mask (``mask_sparsity`` 0): the same architecture, routing
and quality, with only what the zeros save taken away (the bytes on the link of a multi-unit profile, and the
tails' skipped MACs where a unit skips zero inputs). The front is then flagged again with every sparse point
replaced by its twin. A sparse point on the front whose twin is dominated there is on the front **because** its
sparsity pays on this profile; one whose twin stays on the front would be there dense too.

The test uses the profile's prices as they are now, so it is made only where pricing each sparse point again as
it is (sparse) reproduces its stored price (the profile unchanged since the search); otherwise it says why not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from dslnas.hw_models.cost import Cost, ProfileCostModel
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.search.dominance import dominates, minimised
from dslnas.search.pareto import FrontPoint, ParetoFront
from dslnas.spaces.errors import ConfigError, UserError
from dslnas.spaces.space import Objective

ALPHA_PAYS_ABOVE = 0.1
"""Issue 28's mark: a point with alpha above it uses the compression term on purpose (the search space's low
end, 1e-4, is the candidates' default and buys no sparsity)."""

REPRICE_TOLERANCE = 1e-6
"""Relative difference between a stored price and the same point priced again above which the profile is taken
to have changed since the search."""


@dataclass(frozen=True)
class DenseTwin:
    """One sparse point beside its dense twin (per inference latency, power, link bytes per second)."""

    trial: int
    alpha: float
    mask_sparsity: float
    latency_ms: float
    power_mw: float
    link_bytes_per_s: float
    dense_latency_ms: float
    dense_power_mw: float
    dense_link_bytes_per_s: float
    on_front: bool
    twin_on_front: bool   # on the front flagged again with every sparse point dense

    @property
    def held_by_sparsity(self) -> bool:
        """On the front, and its dense twin would not be."""
        return self.on_front and not self.twin_on_front

    def to_json(self) -> dict[str, Any]:
        return {"trial": self.trial, "alpha": self.alpha, "mask_sparsity": self.mask_sparsity,
                "sparse": {"latency_ms": self.latency_ms, "power_mw": self.power_mw, "link_bytes_per_s": self.link_bytes_per_s},
                "dense_twin": {"latency_ms": self.dense_latency_ms, "power_mw": self.dense_power_mw,
                               "link_bytes_per_s": self.dense_link_bytes_per_s},
                "on_front": self.on_front, "twin_on_front": self.twin_on_front, "held_by_sparsity": self.held_by_sparsity}


@dataclass(frozen=True)
class SparsityTest:
    """The dense-twin test of a front (``not_made``: why it was not made, else empty)."""

    profile: str
    priced_as: str                  # what the zeros save on this profile, in words
    twins: tuple[DenseTwin, ...]    # every feasible sparse point, trial order
    not_made: str = ""

    @property
    def held_by_sparsity(self) -> tuple[int, ...]:
        return tuple(t.trial for t in self.twins if t.held_by_sparsity)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "sparsity_priced_as": self.priced_as, "not_made": self.not_made or None,
                "front_trials_held_by_sparsity": list(self.held_by_sparsity), "twins": [t.to_json() for t in self.twins]}


def saves_anything(profile: DeviceProfile) -> bool:
    """Whether a mask's zeros change a price on ``profile`` (a link between units, or a unit skipping zeros)."""
    return (profile.link is not None and len(profile.units) > 1) or any(u.skips_zero_inputs for u in profile.units.values())


def what_sparsity_saves(profile: DeviceProfile) -> str:
    """What a mask's zeros save on ``profile``, in words."""
    saved = (["bytes on the link"] if profile.link is not None and len(profile.units) > 1 else []) + (
        ["the skipped MACs of the tails' first convs"] if any(u.skips_zero_inputs for u in profile.units.values()) else [])
    return " and ".join(saved) or "nothing (one unit that does not skip zero inputs)"


def sparsity_test(front: ParetoFront, profile: DeviceProfile | None = None) -> SparsityTest:
    """The dense-twin test of ``front`` on its profile (``profile``: that profile already loaded); a profile that
    cannot be read or a point that cannot be priced makes it ``not_made``, with the reason, not a failed report."""
    try:
        profile = profile or load_profile(front.profile)
        priced_as = what_sparsity_saves(profile)
        if not saves_anything(profile):
            return SparsityTest(profile.name, priced_as, ())
        return _tested(front, profile, priced_as)
    except (ConfigError, UserError) as err:
        return SparsityTest(front.profile, "", (), str(err))


def _tested(front: ParetoFront, profile: DeviceProfile, priced_as: str) -> SparsityTest:
    sparse = [p for p in front.points if p.feasible and p.record.candidate.dsl.alpha > ALPHA_PAYS_ABOVE
              and p.record.sparsity > 0]
    if any(p.record.cost.routing is None for p in sparse):
        return SparsityTest(profile.name, priced_as, (), "a sparse point's record predates stored routings")
    dense, stale = _dense_twins(sparse, ProfileCostModel(profile))
    if stale:
        return SparsityTest(profile.name, priced_as, (), stale)
    feasible = {p.number: p for p in front.points if p.feasible}
    twin_ok = {p.number: _still_feasible(p, dense[p.number]) for p in sparse}
    values = {n: _values(p, dense.get(n), front.objectives) for n, p in feasible.items() if twin_ok.get(n, True)}
    twins = tuple(
        DenseTwin(p.number, p.record.candidate.dsl.alpha, p.record.sparsity, p.record.latency_ms, p.record.power_mw,
                  p.record.cost.link_bytes_per_s, d.latency_ms.mixed, d.power_mw.mixed, d.link_bytes_per_s, p.on_front,
                  twin_ok[p.number] and not any(dominates(other, values[p.number])
                                                for n, other in values.items() if n != p.number))
        for p in sparse for d in (dense[p.number],))
    return SparsityTest(profile.name, priced_as, twins)


def _dense_twins(sparse: list[FrontPoint], model: ProfileCostModel) -> tuple[dict[int, Cost], str]:
    """Each sparse point's price with a dense mask; or why not (its price as it is is no longer the stored one)."""
    pricers, dense = {}, {}
    for p in sparse:
        if p.trained_trial not in pricers:
            pricers[p.trained_trial] = model.pricer(p.record.candidate)
        price, routing = pricers[p.trained_trial], p.record.cost.routing
        again = price(routing)
        if not (_close(again.latency_ms.mixed, p.record.latency_ms) and _close(again.power_mw.mixed, p.record.power_mw)):
            return {}, (f"profile '{model.name}' prices trial {p.number} at {again.latency_ms.mixed:.4g} ms, "
                        f"{again.power_mw.mixed:.4g} mW now against {p.record.latency_ms:.4g} ms, "
                        f"{p.record.power_mw:.4g} mW stored: it changed since the search (search again to test)")
        dense[p.number] = price(replace(routing, mask_sparsity=0.0))
    return dense, ""


PRICED_LIMITS = {"max_latency_ms": lambda c: c.latency_ms.mixed, "max_power_mw": lambda c: c.power_mw.mixed,
                 "max_real_time_factor": lambda c: c.real_time_factor.mixed}
"""The space's limits a price moves (``search.points.constraint_values``: excess = measured - limit)."""


def _still_feasible(point: FrontPoint, dense: Cost) -> bool:
    """Whether ``point``'s dense twin keeps within the space's limits: each price-dependent excess moved by
    what the twin costs more."""
    return all(excess + (PRICED_LIMITS[name](dense) - PRICED_LIMITS[name](point.record.cost) if name in PRICED_LIMITS
                         else 0.0) <= 0 for name, excess in point.constraints.items())


def _values(point: FrontPoint, dense: Cost | None, objectives: tuple[Objective, ...]) -> tuple[float, ...]:
    """``point``'s minimised objective values, priced dense when ``dense`` is given."""
    if dense is None:
        return minimised(point.values, objectives)
    twin = replace(point.record, cost=dense)
    return minimised(tuple(twin.objective_value(o) for o in objectives), objectives)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REPRICE_TOLERANCE, abs_tol=1e-12)
