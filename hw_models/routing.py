"""How a routed run used the DSL, as the pricing layer reads it: passes, their mix, and the routing summary.

A deployed DSL encoder runs one **pass** per routing segment (one inference): the front parts (base, mask,
switch) and then one tail. Per quantity the cost model gives the full pass, the light pass and their mix at
light-path usage ``p``:

    mixed = p * light + (1 - p) * full  (+ the warm policy's replays, see :class:`RoutingSummary`)

(each segment takes exactly one of the two passes). :func:`mix` is the one place that weighting is computed,
for predictions and measurements alike.

A :class:`RoutingSummary` is what one routed run did, whoever ran it: a streaming evaluation's sweep point or
group (:meth:`RoutingSummary.from_stream`), one streaming run (:meth:`RoutingSummary.from_stream_result`), a
device runner's measured routed run (``runners.routed.RoutedRun.routing``), or a user's assumption (``dslnas
cost --light-usage``). ``cost.ProfileCostModel.predict_counts`` prices a candidate under it; every caller
(trial, sweep points, the oracle sweep, ``evaluate``, ``cost``, ``confirm``) goes through that one method.
Warm replays are counted one way, the streaming runtime's (``trainers.streaming.count_warm_replays``: per
tail, at each resume, the tail's receptive field capped by the frames seen so far). Torch-free.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dslnas.hw_models.counts import TAIL_PARTS, Part
from dslnas.spaces.errors import UserError


class Pass(str, enum.Enum):
    """One way of running the encoder: always full, always light, routed (the mix), or the deployed image
    (both tails held in memory: what flash and RAM figures mean by ``deployed``)."""

    FULL = "full"
    LIGHT = "light"
    MIXED = "mixed"
    DEPLOYED = "deployed"


@dataclass(frozen=True)
class PassFigures:
    """One quantity for the full, light and mixed pass (same unit as the field it sits in). For memory the
    third figure is the deployed image (:attr:`Pass.DEPLOYED`), which holds both tails."""

    full: float
    light: float
    mixed: float

    @property
    def saving_pct(self) -> float:
        """How much the mixed pass saves against running the full pass only (%)."""
        return 100.0 * (1.0 - self.mixed / self.full) if self.full else 0.0

    def of(self, which: Pass) -> float:
        """The figure of one pass (``DEPLOYED`` reads the third figure, as ``MIXED`` does)."""
        return {Pass.FULL: self.full, Pass.LIGHT: self.light}.get(which, self.mixed)

    def to_json(self, third: Pass = Pass.MIXED) -> dict[str, float]:
        return {Pass.FULL.value: self.full, Pass.LIGHT.value: self.light, third.value: self.mixed}


def check_fraction(name: str, value: float) -> None:
    """A fraction outside [0, 1] (or NaN) is a UserError naming it."""
    if not 0.0 <= value <= 1.0:
        raise UserError(f"{name} must be a fraction in [0, 1], got {value}")


def check_light_usage(light_usage: float) -> None:
    """A usage outside [0, 1] is a UserError."""
    check_fraction("light usage", light_usage)


def mix(full: float, light: float, light_usage: float) -> PassFigures:
    """Full, light and their usage-weighted mean at light-path usage ``light_usage`` (0..1)."""
    check_light_usage(light_usage)
    return PassFigures(full, light, light_usage * light + (1.0 - light_usage) * full)


class StreamedRouting(Protocol):
    """What a streaming evaluation reports of one routing (``trainers.evaluate.SweepPoint`` / ``GroupSummary``)."""

    @property
    def light_usage(self) -> float: ...
    @property
    def transitions_per_s(self) -> float: ...
    @property
    def warmup_frames_per_s(self) -> float: ...
    @property
    def warmup_frames_light_per_s(self) -> float: ...


def _rate(name: str, value: float) -> float:
    """``value`` when it is a finite rate >= 0; a UserError naming it otherwise (no NaN becomes a number)."""
    if not (math.isfinite(value) and value >= 0):
        raise UserError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


@dataclass(frozen=True)
class RoutingSummary:
    """One routed run, as priced.

    ``light_usage``: share of segments routed light, 0..1. ``mask_sparsity``: share of exact zeros in the mask
    output, 0..1 (priced where a unit skips zero inputs; cuts link bytes on multi-unit profiles).
    ``replayed_frames_per_s``: per tail (:data:`~dslnas.hw_models.counts.TAIL_PARTS`), masked base frames the
    ``warm`` state policy replayed into it per second of audio, as the streaming runtime counts them; 0 under
    ``reset`` / ``stale``. ``switch_backs_per_s``: light -> full transitions per second of audio (reported
    beside the price; the replays are what costs). ``elu_negative_shares``: per part, each ELU's share of
    negative inputs measured on the run's audio, in call order (``elu_stats``; empty: not measured, each ELU
    then priced at ``counts.ASSUMED_NEGATIVE_SHARE`` and the cost says so).
    """

    light_usage: float
    mask_sparsity: float = 0.0
    replayed_frames_per_s: Mapping[Part, float] = field(default_factory=dict)
    switch_backs_per_s: float = 0.0
    elu_negative_shares: Mapping[Part, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_light_usage(self.light_usage)
        check_fraction("mask sparsity", self.mask_sparsity)
        for part, rate in self.replayed_frames_per_s.items():
            if part not in TAIL_PARTS:
                raise UserError(f"replays are counted per tail ({', '.join(p.value for p in TAIL_PARTS)}), got '{part}'")
            _rate(f"replayed frames per second into the {Part(part).value} tail", rate)
        _rate("switch-backs per second", self.switch_backs_per_s)
        for part, shares in self.elu_negative_shares.items():
            for share in shares:
                check_fraction(f"an ELU's negative-input share in the {Part(part).value} part", share)

    @classmethod
    def from_stream(cls, point: StreamedRouting, mask_sparsity: float) -> "RoutingSummary":
        """The routing of a streaming evaluation's sweep point or group (``mask_sparsity``: the evaluation's,
        which no threshold changes)."""
        both = _rate("replayed frames per second", point.warmup_frames_per_s)
        light = _rate("replayed frames per second into the light tail", point.warmup_frames_light_per_s)
        return cls(point.light_usage, mask_sparsity, {Part.FULL_TAIL: both - light, Part.LIGHT_TAIL: light},
                   _rate("switch-backs per second", point.transitions_per_s))

    @classmethod
    def from_counts(cls, light_usage: float, mask_sparsity: float, audio_s: float, switch_backs: int,
                    replayed_frames: Mapping[Any, int]) -> "RoutingSummary":
        """A run over ``audio_s`` seconds with ``switch_backs`` and ``replayed_frames`` per tail in total (keys:
        :class:`Part` tails or anything whose value names one, e.g. ``trainers.streaming.Tail``)."""
        if not audio_s > 0:
            raise UserError(f"a routed run needs audio, got {audio_s} s")
        replays = {Part(getattr(t, "value", t)): n / audio_s for t, n in replayed_frames.items()}
        return cls(light_usage, mask_sparsity, replays, switch_backs / audio_s)

    @classmethod
    def from_stream_result(cls, result: Any, audio_s: float) -> "RoutingSummary":
        """One ``trainers.streaming.StreamResult`` over ``audio_s`` seconds of audio."""
        return cls.from_counts(result.light_usage, result.mask_sparsity, audio_s, result.switch_backs,
                               {Part.FULL_TAIL: result.warmup_frames_full, Part.LIGHT_TAIL: result.warmup_frames_light})

    def at_usage(self, light_usage: float) -> "RoutingSummary":
        """The same sparsity and ELU shares at another light usage with no replays (what ``trainers.oracle``
        compares)."""
        return RoutingSummary(light_usage, self.mask_sparsity, elu_negative_shares=self.elu_negative_shares)

    def replays_per_inference(self, base_frames_per_s: float) -> dict[Part, float]:
        """Per tail, replayed work per inference as a share of one inference of that tail (one inference of
        a tail processes one segment's base frames, so the share is replayed frames over base frames)."""
        if any(self.replayed_frames_per_s.values()) and not base_frames_per_s > 0:
            raise UserError("pricing warm replays needs the base frames per second (counts without them)")
        return {t: self.replayed_frames_per_s.get(t, 0.0) / base_frames_per_s if base_frames_per_s else 0.0
                for t in TAIL_PARTS}

    def to_json(self) -> dict[str, Any]:
        return {"light_usage": self.light_usage, "mask_sparsity": self.mask_sparsity,
                "replayed_frames_per_s": {Part(t).value: v for t, v in self.replayed_frames_per_s.items()},
                "switch_backs_per_s": self.switch_backs_per_s,
                "elu_negative_shares": {Part(p).value: list(v) for p, v in self.elu_negative_shares.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RoutingSummary":
        """:meth:`to_json`'s shape read back (records from before ELU shares were kept: none, i.e. assumed)."""
        return cls(float(data["light_usage"]), float(data["mask_sparsity"]),
                   {Part(t): float(v) for t, v in data["replayed_frames_per_s"].items()}, float(data["switch_backs_per_s"]),
                   {Part(p): tuple(float(x) for x in v) for p, v in data.get("elu_negative_shares", {}).items()})
