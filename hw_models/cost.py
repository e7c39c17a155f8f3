"""The cost model interface and its profile-backed implementation.

``CostModel.predict(candidate, light_usage) -> Cost``: latency (ms per inference, one inference = one
routing segment of ``candidate.segment_samples`` audio) and average power (mW, running one inference per
segment of real-time audio) for the full pass, the light pass and the mixed pass at light-path usage
``p``. Both passes run the base network, the mask and the switch, then one tail:

    full  = base + mask + switch + full tail        light = base + mask + switch + light tail
    mixed = p * light + (1 - p) * full              saving_pct = 100 * (1 - mixed / full)

(the mixed pass is the usage-weighted mean because each segment takes exactly one of the two passes).

:func:`mix` is the one place that weighting is computed, for predictions and measurements alike. A
:class:`Cost` keeps the op counts it was priced from; :class:`CostSummary` is what a trial stores (no
per-layer lists). This module imports no torch: counting a candidate (``op_count``) is imported when
:meth:`CostModel.predict` runs.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import Any

from dslnas.hw_models.counts import PATHS, EncoderCounts
from dslnas.hw_models.footprint import flash_kib, provenance_text, ram_kib
from dslnas.hw_models.latency_model import latency_ms
from dslnas.hw_models.power_model import energy_per_inference_mj, power_mw
from dslnas.hw_models.profile import ComputeUnit, DeviceProfile
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError

FRONT = ("base", "mask", "switch")  # what both passes run before the tail


@dataclass(frozen=True)
class PassFigures:
    """One quantity for the full, light and mixed pass (same unit as the field it sits in)."""

    full: float
    light: float
    mixed: float

    @property
    def saving_pct(self) -> float:
        """How much the mixed pass saves against running the full pass only (%)."""
        return 100.0 * (1.0 - self.mixed / self.full) if self.full else 0.0

    def to_json(self) -> dict[str, float]:
        return {"full": self.full, "light": self.light, "mixed": self.mixed}


def mix(full: float, light: float, light_usage: float) -> PassFigures:
    """Full, light and their usage-weighted mean at light-path usage ``light_usage`` (0..1)."""
    check_light_usage(light_usage)
    return PassFigures(full, light, light_usage * light + (1.0 - light_usage) * full)


def check_light_usage(light_usage: float) -> None:
    """A usage outside [0, 1] is a UserError."""
    if not 0.0 <= light_usage <= 1.0:
        raise UserError(f"light usage must be a fraction in [0, 1], got {light_usage}")


@dataclass(frozen=True)
class Cost:
    """What one candidate costs on one device.

    ``path_latency_ms``: per inference, each part on its own (``base``, ``mask``, ``switch``, ``full`` tail,
    ``light`` tail). ``unsupported_ops``: ops the counter could not price (counted as free; see ``counts``).
    """

    profile: str
    unit: str
    light_usage: float
    latency_ms: PassFigures
    power_mw: PassFigures
    path_latency_ms: dict[str, float]
    counts: EncoderCounts
    path_energy_mj: dict[str, float]
    inferences_per_s: float
    provenance: str = ""               # how the profile was made (footprint.provenance_text)
    latency_error_pct: float | None = None  # the profile's cross-validated MAPE: the band around latency_ms
    mask_sparsity: float = 0.0         # the share of zeros the tails' first convs were priced with
    sparsity_priced: bool = False      # whether the unit's runtime skips zero inputs (alpha buys latency)
    raw_counts: EncoderCounts | None = None  # the counts before this unit's sparsity / quantizer rewrites

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

    @property
    def unsupported_ops(self) -> dict[str, int]:
        return self.counts.unsupported_ops

    def summary(self) -> "CostSummary":
        """What a search trial stores of this cost."""
        return CostSummary(
            profile=self.profile, unit=self.unit, light_usage=self.light_usage, latency_ms=self.latency_ms,
            power_mw=self.power_mw, path_latency_ms=dict(self.path_latency_ms),
            path_params={name: self.counts.paths[name].params for name in PATHS},
            unsupported_ops=dict(self.unsupported_ops), path_energy_mj=dict(self.path_energy_mj),
            inferences_per_s=self.inferences_per_s, provenance=self.provenance, latency_error_pct=self.latency_error_pct,
            mask_sparsity=self.mask_sparsity, sparsity_priced=self.sparsity_priced,
            flash_kib=PassFigures(*flash_kib(self.counts)), ram_kib=PassFigures(*ram_kib(self.counts)),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``dslnas cost --json`` shape."""
        return {
            "profile": self.profile,
            "unit": self.unit,
            "light_usage": self.light_usage,
            "latency_ms": self.latency_ms.to_json(),
            "power_mw": self.power_mw.to_json(),
            "latency_saving_pct": self.latency_saving_pct,
            "power_saving_pct": self.power_saving_pct,
            "path_latency_ms": dict(self.path_latency_ms),
            "energy_per_inference_uj": {p: 1e3 * mj for p, mj in self.path_energy_mj.items()},
            "real_time_factor": self.real_time_factor.to_json(),
            "flash_kib": dict(zip(("full", "light", "deployed"), flash_kib(self.counts))),
            "ram_kib": dict(zip(("full", "light", "deployed"), ram_kib(self.counts))),
            "provenance": self.provenance,
            "latency_error_pct": self.latency_error_pct,
            "mask_sparsity": self.mask_sparsity,
            "alpha": ("priced: the unit's runtime skips the mask's zeros in each tail's first conv" if self.sparsity_priced
                      else "buys nothing on this device: its runtime does not skip the mask's zeros"),
            "encoder_params": self.counts.encoder_params,
            "paths": self.counts.to_json()["paths"],
            "unsupported_ops": [
                {"path": key.split(":", 1)[0], "op": key.split(":", 1)[1], "calls": n}
                for key, n in sorted(self.unsupported_ops.items())
            ],
        }


@dataclass(frozen=True)
class CostSummary:
    """A priced candidate without its per-layer counts: what a trial record holds.

    ``path_latency_ms``, ``path_energy_mj`` and ``path_params``: per part (``base``, ``mask``, ``switch``,
    ``full`` tail, ``light`` tail), per inference. ``unsupported_ops``: ``{"<path>:<aten op>": calls}`` the
    counter could not price. ``warmup_full_tail_share``: extra full-tail work per inference, as a share of
    one full-tail inference, from the ``warm`` state policy's replays on switch-backs (0 otherwise).
    """

    profile: str
    unit: str
    light_usage: float
    latency_ms: PassFigures
    power_mw: PassFigures
    path_latency_ms: dict[str, float]
    path_params: dict[str, int]
    unsupported_ops: dict[str, int]
    path_energy_mj: dict[str, float]
    inferences_per_s: float
    provenance: str
    latency_error_pct: float | None
    mask_sparsity: float
    sparsity_priced: bool
    flash_kib: PassFigures   # full pass, light pass, deployed (both tails)
    ram_kib: PassFigures     # full pass, light pass, deployed (both tails' state)
    warmup_full_tail_share: float = 0.0
    placement: str = ""      # multi-unit profiles: the stage -> unit assignment priced (hw_models.placement)

    @property
    def energy_per_inference_uj(self) -> PassFigures:
        """Dynamic energy of one inference per pass (uJ); the mix is usage-weighted (replays not included).
        Average power at the deployment's rate = static + energy x rate (``power_mw``)."""
        front = sum(self.path_energy_mj[p] for p in FRONT)
        full, light = 1e3 * (front + self.path_energy_mj["full"]), 1e3 * (front + self.path_energy_mj["light"])
        return mix(full, light, self.light_usage)

    @property
    def real_time_factor(self) -> PassFigures:
        """Latency per segment over the segment's duration (< 1: keeps up with real time)."""
        segment_ms = 1000.0 / self.inferences_per_s
        return PassFigures(*(v / segment_ms for v in (self.latency_ms.full, self.latency_ms.light, self.latency_ms.mixed)))

    def routed(self, light_usage: float, warmup_full_tail_share: float = 0.0) -> "CostSummary":
        """The same candidate as a deployment runs it: ``light_usage`` of the segments light, plus the warm
        policy's replays (``warmup_full_tail_share`` of a full-tail inference per inference on average).

        The passes do not change; the mix is :func:`mix`, the replays add their full-tail latency and energy.
        """
        if warmup_full_tail_share < 0:
            raise ValueError(f"warm-up share must be >= 0, got {warmup_full_tail_share}")
        extra_ms = warmup_full_tail_share * self.path_latency_ms["full"]
        extra_mw = warmup_full_tail_share * self.path_energy_mj["full"] * self.inferences_per_s  # mJ x 1/s = mW
        latency = mix(self.latency_ms.full, self.latency_ms.light, light_usage)
        power = mix(self.power_mw.full, self.power_mw.light, light_usage)
        return replace(
            self, light_usage=light_usage, warmup_full_tail_share=warmup_full_tail_share,
            latency_ms=PassFigures(latency.full, latency.light, latency.mixed + extra_ms),
            power_mw=PassFigures(power.full, power.light, power.mixed + extra_mw),
        )


class CostModel(abc.ABC):
    """Prices a candidate: ``predict`` counts it and calls ``predict_counts``."""

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """What the prices come from (a profile name)."""

    @abc.abstractmethod
    def predict_counts(self, counts: EncoderCounts, light_usage: float, mask_sparsity: float = 0.0) -> Cost:
        """The cost of already counted paths at light-path usage ``light_usage`` (0..1), the tails' inputs
        ``mask_sparsity`` zeros (priced only where the device skips them)."""

    def predict(self, candidate: CandidateConfig, light_usage: float, mask_sparsity: float = 0.0) -> Cost:
        """The cost of ``candidate`` at light-path usage ``light_usage`` (0..1)."""
        from dslnas.hw_models.op_count import count_candidate  # traces the model: torch

        check_light_usage(light_usage)
        return self.predict_counts(count_candidate(candidate), light_usage, mask_sparsity)


class ProfileCostModel(CostModel):
    """Prices every path on one compute unit of a :class:`DeviceProfile` (default: its ``default_unit``)."""

    def __init__(self, profile: DeviceProfile, unit: str | None = None) -> None:
        self.profile = profile
        self.unit_name = unit or profile.default_unit
        self.unit: ComputeUnit = profile.unit(self.unit_name)

    @property
    def name(self) -> str:
        return self.profile.name

    def predict_counts(self, counts: EncoderCounts, light_usage: float, mask_sparsity: float = 0.0) -> Cost:
        check_light_usage(light_usage)
        if not 0.0 <= mask_sparsity <= 1.0:
            raise UserError(f"mask sparsity must be a fraction in [0, 1], got {mask_sparsity}")
        priced = self.unit.skips_zero_inputs
        raw = counts
        if priced and mask_sparsity > 0:
            counts = with_sparse_tail_inputs(counts, mask_sparsity)
        if self.unit.runs_quantizer and counts.quantizer is not None:
            counts = with_quantizer_on_device(counts)
        path_ms = path_latencies_ms(counts, self.unit, f"profile '{self.profile.name}' (unit '{self.unit_name}')")
        rate = counts.inferences_per_s
        energy = {p: energy_per_inference_mj(counts.paths[p].layers, path_ms[p], self.unit.power) for p in PATHS}
        static = self.unit.power.static_mw
        front_ms, front_mj = sum(path_ms[p] for p in FRONT), sum(energy[p] for p in FRONT)
        latency = mix(front_ms + path_ms["full"], front_ms + path_ms["light"], light_usage)
        full_mw = power_mw(static, front_mj + energy["full"], rate)
        light_mw = power_mw(static, front_mj + energy["light"], rate)
        power = mix(full_mw, light_mw, light_usage)
        cv = self.profile.provenance.cv_mape_pct
        return Cost(self.profile.name, self.unit_name, light_usage, latency, power, path_ms, counts, energy, rate,
                    provenance_text(self.profile), cv, mask_sparsity if priced else 0.0, priced, raw)


def with_quantizer_on_device(counts: EncoderCounts) -> EncoderCounts:
    """``counts`` with the residual VQ's search in the ``switch`` part (it runs on every segment, either pass)."""
    assert counts.quantizer is not None
    switch = counts.paths["switch"]
    with_vq = replace(switch, layers=(*switch.layers, counts.quantizer), params=switch.params + counts.quantizer.params)
    return replace(counts, paths={**counts.paths, "switch": with_vq})


def with_sparse_tail_inputs(counts: EncoderCounts, mask_sparsity: float) -> EncoderCounts:
    """``counts`` with each tail's first conv doing ``1 - mask_sparsity`` of its MACs (zero inputs skipped)."""
    paths = dict(counts.paths)
    for tail in ("full", "light"):
        layers = list(paths[tail].layers)
        first = next((i for i, layer in enumerate(layers) if layer.op_type == "conv"), None)
        if first is not None:
            layers[first] = replace(layers[first], macs_per_inference=round(layers[first].macs_per_inference * (1 - mask_sparsity)))
            paths[tail] = replace(paths[tail], layers=tuple(layers))
    return replace(counts, paths=paths)


def path_latencies_ms(counts: EncoderCounts, unit: ComputeUnit, where: str) -> dict[str, float]:
    """Latency per inference of each path on ``unit``; ConfigError when an op type has no coefficients."""
    unit.require_ops({layer.op_type for p in PATHS for layer in counts.paths[p].layers}, where)
    return {p: latency_ms(counts.paths[p].layers, unit.latency) for p in PATHS}
