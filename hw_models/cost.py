"""The cost model interface, the one price of a routed run, and the one cost type.

``CostModel.predict(candidate, routing) -> Cost``: latency (ms per inference, one inference = one routing
segment of ``candidate.segment_samples`` audio), average power (mW, running one inference per segment of
real-time audio), energy per inference and memory for the full pass, the light pass and the routed mix
(:mod:`dslnas.hw_models.routing`: light usage, the mask's sparsity, the warm policy's replays). Both passes
run the base network, the mask and the switch, then one tail:

    full  = base + mask + switch + full tail        light = base + mask + switch + light tail
    mixed = p * light + (1 - p) * full + replays    saving_pct = 100 * (1 - mixed / full)

:meth:`ProfileCostModel.predict_counts` is the one place a routed run is priced: each unit's rewrites (zero
skipping, quantizer), every placement of a multi-unit profile (link bytes, the cheapest by the objective;
:mod:`dslnas.hw_models.placement`), the replays. Trials, sweep points, ``evaluate``, ``cost`` and
``confirm`` all call it. A :class:`Cost` keeps its per-layer counts when asked (``cost --json``); a trial
stores it without them. This module imports no torch: counting a candidate (``op_count``) is imported when
:meth:`CostModel.predict` runs.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dslnas.hw_models.counts import (
    ASSUMED_NEGATIVE_SHARE, FRONT_PARTS, PATHS, EluShares, EncoderCounts, Part, elu_share_source, negative_shares,
    with_negative_shares,
)
from dslnas.hw_models.footprint import flash_kib, provenance_text, ram_kib
from dslnas.hw_models.placement import Placement, PlacementObjective, PlacementPricer, all_placements, unit_counts
from dslnas.hw_models.profile import DeviceProfile
from dslnas.hw_models.routing import Pass, PassFigures, RoutingSummary, check_light_usage, mix
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError

__all__ = ["Cost", "CostModel", "Pass", "PassFigures", "ProfileCostModel", "RoutingSummary", "check_light_usage", "mix"]


@dataclass(frozen=True)
class Cost:
    """What one candidate costs on one device under one routing.

    Per pass (:class:`PassFigures`): ``latency_ms`` and ``power_mw`` (the mix includes the warm replays),
    ``energy_per_inference_uj`` (dynamic energy: power = static + energy x rate), ``flash_kib`` / ``ram_kib``
    (full pass, light pass, deployed with both tails). Per part (:class:`Part`), per inference, on the unit
    that runs it: ``path_latency_ms``, ``path_energy_mj``, ``path_params``. ``unsupported_ops``:
    ``{"<part>:<aten op>": calls}`` the counter could not price (counted as free). ``replays_per_inference``:
    per tail, the warm policy's replayed work per inference as a share of one inference of that tail.
    ``placement``: multi-unit profiles, the stage -> unit assignment priced (empty on one unit), with the bytes
it sends across the link and the wake-ups of a tail's unit per second of audio. ``routing``:
    the routing it was priced under (None in records written before it was kept), its ``elu_negative_shares``
    the ones priced. ``elu_shares``: whether those shares were measured or ASSUMED
    (:data:`~dslnas.hw_models.counts.ASSUMED_NEGATIVE_SHARE` for every ELU; ``elu_share_note`` says it in words).
    ``counts``: the per-layer counts as the front unit runs them (None where not kept, e.g. in a trial record).
    """

    profile: str
    unit: str
    light_usage: float
    latency_ms: PassFigures
    power_mw: PassFigures
    energy_per_inference_uj: PassFigures
    path_latency_ms: dict[Part, float]
    path_energy_mj: dict[Part, float]
    path_params: dict[Part, int]
    unsupported_ops: dict[str, int]
    inferences_per_s: float
    provenance: str                    # how the profile was made (footprint.provenance_text)
    latency_error_pct: float | None    # the profile's cross-validated MAPE: the band around latency_ms
    mask_sparsity: float               # the share of zeros the tails' first convs were priced with
    sparsity_priced: bool              # whether the runtime skips zero inputs (alpha buys latency)
    flash_kib: PassFigures             # full pass, light pass, deployed (both tails)
    ram_kib: PassFigures               # full pass, light pass, deployed (both tails' state)
    replays_per_inference: dict[Part, float] = field(default_factory=dict)
    placement: str = ""
    link_bytes_per_s: float = 0.0      # placement: mixed bytes across the link per second of audio (0 on one unit)
    wakeups_per_s: float = 0.0         # placement: wake-ups per second of a unit running a tail away from the front
    routing: RoutingSummary | None = None
    counts: EncoderCounts | None = None
    elu_shares: EluShares = EluShares.ASSUMED  # records from before it was kept were priced at the assumed share

    @property
    def routed_mask_sparsity(self) -> float:
        """The mask's share of zeros in the priced routing (what the link's bytes follow), whatever the tails
        were priced with (``mask_sparsity``: 0 where no tail's unit skips zero inputs)."""
        return self.routing.mask_sparsity if self.routing is not None else self.mask_sparsity

    @property
    def elu_share_note(self) -> str:
        """Where the ELU negative-input shares of this price came from, in words (an assumption said as one)."""
        if self.elu_shares is EluShares.MEASURED:
            return "measured on the run's audio (each ELU's share of negative inputs)"
        if self.elu_shares is EluShares.NO_ELU:
            return "no ELU in the encoder"
        return (f"ASSUMED: {ASSUMED_NEGATIVE_SHARE:g} of the inputs negative for every ELU without a measured share "
                f"({self.elu_shares.value}; no activations measured)")

    @property
    def segment_ms(self) -> float:
        return 1000.0 / self.inferences_per_s

    @property
    def real_time_factor(self) -> PassFigures:
        """Latency per segment over the segment's duration (< 1: keeps up with real time)."""
        return PassFigures(*(v / self.segment_ms for v in (self.latency_ms.full, self.latency_ms.light, self.latency_ms.mixed)))

    @property
    def latency_saving_pct(self) -> float:
        return self.latency_ms.saving_pct

    @property
    def power_saving_pct(self) -> float:
        return self.power_mw.saving_pct

    def without_counts(self) -> "Cost":
        """This cost without its per-layer counts (what a trial stores)."""
        return replace(self, counts=None)

    def to_record(self) -> dict[str, Any]:
        """The stored shape (a trial record's ``cost``): every field but the per-layer counts, JSON-ready."""
        data = asdict(self.without_counts())
        data.pop("counts")
        data["routing"] = None if self.routing is None else self.routing.to_json()
        data["elu_shares"] = self.elu_shares.value
        for name in ("path_latency_ms", "path_energy_mj", "path_params", "replays_per_inference"):
            data[name] = {Part(k).value: v for k, v in data[name].items()}
        return data

    @classmethod
    def from_record(cls, fields: dict[str, Any]) -> "Cost":
        """A :class:`Cost` from :meth:`to_record`'s shape read back from JSON, records written before the merge
        of ``CostSummary`` into ``Cost`` included (their replays were full-tail work only, and their mixed
        energy is recomputed from the parts)."""
        data = dict(fields)
        data.pop("counts", None)
        data["routing"] = None if data.get("routing") is None else RoutingSummary.from_json(data["routing"])
        data["elu_shares"] = EluShares(data.get("elu_shares", EluShares.ASSUMED.value))
        for name in ("latency_ms", "power_mw", "flash_kib", "ram_kib", "energy_per_inference_uj"):
            if isinstance(data.get(name), dict):
                data[name] = PassFigures(**data[name])
        for name in ("path_latency_ms", "path_energy_mj", "path_params", "replays_per_inference"):
            data[name] = {Part(k): v for k, v in data.get(name, {}).items()}
        legacy_share = data.pop("warmup_full_tail_share", None)
        if legacy_share is not None:
            data["replays_per_inference"] = {Part.FULL_TAIL: float(legacy_share), Part.LIGHT_TAIL: 0.0}
        if "energy_per_inference_uj" not in data:
            data["energy_per_inference_uj"] = _energy_from_parts(data)
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        """The ``dslnas cost --json`` shape (``encoder_params`` and ``paths`` only where the counts were kept)."""
        return {
            "profile": self.profile,
            "unit": self.unit,
            "placement": self.placement,
            "link_bytes_per_s": self.link_bytes_per_s,
            "wakeups_per_s": self.wakeups_per_s,
            "light_usage": self.light_usage,
            "latency_ms": self.latency_ms.to_json(),
            "power_mw": self.power_mw.to_json(),
            "latency_saving_pct": self.latency_saving_pct,
            "power_saving_pct": self.power_saving_pct,
            "path_latency_ms": {p.value: v for p, v in self.path_latency_ms.items()},
            "energy_per_inference_uj": {p.value: 1e3 * mj for p, mj in self.path_energy_mj.items()},
            "pass_energy_per_inference_uj": self.energy_per_inference_uj.to_json(),
            "replays_per_inference": {p.value: v for p, v in self.replays_per_inference.items()},
            "real_time_factor": self.real_time_factor.to_json(),
            "flash_kib": self.flash_kib.to_json(Pass.DEPLOYED),
            "ram_kib": self.ram_kib.to_json(Pass.DEPLOYED),
            "provenance": self.provenance,
            "latency_error_pct": self.latency_error_pct,
            "mask_sparsity": self.mask_sparsity,
            "elu_negative_shares": {"source": self.elu_shares.value, "note": self.elu_share_note,
                                    "per_part": {} if self.routing is None else
                                    {Part(p).value: list(v) for p, v in self.routing.elu_negative_shares.items()}},
            "alpha": ("priced: the unit's runtime skips the mask's zeros in each tail's first conv" if self.sparsity_priced
                      else "buys nothing on this device: its runtime does not skip the mask's zeros"),
            **({"encoder_params": self.counts.encoder_params, "paths": self.counts.to_json()["paths"]}
               if self.counts is not None else {}),
            "unsupported_ops": [
                {"path": key.split(":", 1)[0], "op": key.split(":", 1)[1], "calls": n}
                for key, n in sorted(self.unsupported_ops.items())
            ],
        }


class CostModel(abc.ABC):
    """Prices a candidate under a routing: ``predict`` counts it and calls ``predict_counts``."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """What the prices come from (a profile name)."""

    @abc.abstractmethod
    def predict_counts(self, counts: EncoderCounts, routing: RoutingSummary | float) -> Cost:
        """The cost of already counted parts under ``routing`` (a bare float: the light usage of a routing
        with a dense mask and no replays)."""

    def predict(self, candidate: CandidateConfig, routing: RoutingSummary | float) -> Cost:
        """The cost of ``candidate`` under ``routing``."""
        from dslnas.hw_models.op_count import count_candidate  # traces the model: torch

        routing = as_routing(routing)
        return self.predict_counts(count_candidate(candidate), routing)

    def pricer(self, candidate: CandidateConfig, elu_negative_shares: Mapping[Part, Sequence[float]] | None = None
               ) -> "Pricer":
        """``candidate`` counted once, priced by :meth:`predict_counts` under each routing it is given;
        ``elu_negative_shares`` (measured on the candidate's evaluated audio, ``elu_stats.clip_negative_shares``):
        carried by every price it makes (None: each ELU priced at the assumed share, and each cost says so)."""
        from dslnas.hw_models.op_count import count_candidate  # traces the model: torch

        counts = count_candidate(candidate)
        return functools.partial(self.predict_counts, counts if elu_negative_shares is None else
                                 with_negative_shares(counts, elu_negative_shares))


Pricer = Callable[[RoutingSummary], Cost]
"""One counted candidate priced under any routing (:meth:`CostModel.pricer`): what sweeps call per point."""


def as_routing(routing: RoutingSummary | float) -> RoutingSummary:
    """``routing`` itself, or a routing at that light usage with a dense mask and no replays."""
    return routing if isinstance(routing, RoutingSummary) else RoutingSummary(float(routing))


class ProfileCostModel(CostModel):
    """Prices on a :class:`DeviceProfile`: on one unit (``unit``, or a profile of one unit), at the profile's
    pinned placement, or at the cheapest placement by ``objective`` over all of a multi-unit profile's units."""

    def __init__(self, profile: DeviceProfile, unit: str | None = None,
                 objective: PlacementObjective = PlacementObjective.POWER) -> None:
        self.profile = profile
        self.unit_name = unit or profile.default_unit
        self.unit = profile.unit(self.unit_name)
        self.objective = objective
        self.one_unit = unit is not None or len(profile.units) < 2
        pinned = profile.placement
        self.placements = ((Placement(self.unit_name, self.unit_name, self.unit_name),) if self.one_unit else
                           (Placement(pinned.front, pinned.light, pinned.full),) if pinned else all_placements(profile))

    @property
    def name(self) -> str:
        return self.profile.name

    def predict_counts(self, counts: EncoderCounts, routing: RoutingSummary | float) -> Cost:
        """The one price (see the module docstring). The routing's ELU shares, when it has any, replace the
        counts' own; the cost's routing carries the shares that were priced."""
        routing = as_routing(routing)
        counts = with_elu_shares(counts, routing.elu_negative_shares)
        routing = replace(routing, elu_negative_shares=negative_shares(counts))
        best = PlacementPricer(counts, self.profile, routing).ranked(self.placements, self.objective)[0]
        front = self.profile.unit(best.placement.front)
        on_front = unit_counts(counts, front, routing.mask_sparsity)
        priced = any(self.profile.units[best.placement.unit_of(t)].skips_zero_inputs for t in (Part.FULL_TAIL, Part.LIGHT_TAIL))
        replays = routing.replays_per_inference(counts.base_frames_per_inference * counts.inferences_per_s)
        return Cost(
            profile=self.profile.name, unit=best.placement.front, light_usage=routing.light_usage,
            latency_ms=best.latency_ms, power_mw=best.power_mw, energy_per_inference_uj=best.energy_per_inference_uj,
            path_latency_ms=best.path_latency_ms, path_energy_mj=best.path_energy_mj,
            path_params={p: on_front.paths[p].params for p in PATHS}, unsupported_ops=dict(counts.unsupported_ops),
            inferences_per_s=counts.inferences_per_s, provenance=provenance_text(self.profile),
            latency_error_pct=self.profile.provenance.cv_mape_pct,
            mask_sparsity=routing.mask_sparsity if priced else 0.0, sparsity_priced=priced,
            flash_kib=PassFigures(*flash_kib(on_front)), ram_kib=PassFigures(*ram_kib(on_front)),
            replays_per_inference=replays, placement="" if self.one_unit else best.placement.name,
            link_bytes_per_s=best.link_bytes_per_inference.mixed * counts.inferences_per_s,
            wakeups_per_s=best.wakeups_per_inference.mixed * counts.inferences_per_s,
            routing=routing, counts=on_front, elu_shares=elu_share_source(counts),
        )


def with_elu_shares(counts: EncoderCounts, shares: Mapping[Part, Sequence[float]]) -> EncoderCounts:
    """``counts`` with ``shares`` attached (unchanged when there are none); a UserError when they do not fit
    the counted ELUs (shares measured on another candidate)."""
    if not shares:
        return counts
    try:
        return with_negative_shares(counts, shares)
    except ValueError as err:
        raise UserError(f"the routing's ELU shares do not fit this candidate: {err}") from err


def _energy_from_parts(data: dict[str, Any]) -> PassFigures:
    """Energy per inference per pass from one-unit part energies (records stored before it was a field)."""
    mj, replays = data["path_energy_mj"], data["replays_per_inference"]
    front = sum(mj[p] for p in FRONT_PARTS)
    figures = mix(1e3 * (front + mj[Part.FULL_TAIL]), 1e3 * (front + mj[Part.LIGHT_TAIL]), data["light_usage"])
    extra = sum(1e3 * share * mj[t] for t, share in replays.items())
    return replace(figures, mixed=figures.mixed + extra)
