"""Power of a periodically run inference: static power plus energy per inference times the rate.

    power_mw = static_mw + energy_per_inference_mj * inferences_per_s
    energy_per_inference_mj = active_mw * latency_ms * 1e-3
                              + (pj_per_op * ops + pj_per_act_byte * act_bytes + pj_per_weight_byte * weight_bytes) * 1e-9

The first energy term is the unit running (busy or stalled on memory) for the inference's latency; the
second is the arithmetic and memory traffic on top. Both are linear in MACs and bytes (the latency is,
see :mod:`dslnas.hw_models.latency_model`) with non-negative coefficients.
"""

from __future__ import annotations

from collections.abc import Sequence

from dslnas.hw_models.counts import LayerCount
from dslnas.hw_models.profile import PowerCoefficients

PJ_TO_MJ = 1e-9
UJ_TO_MJ = 1e-3


def energy_per_inference_mj(layers: Sequence[LayerCount], latency_ms: float, power: PowerCoefficients) -> float:
    """Dynamic energy of one inference over ``layers`` that took ``latency_ms`` on the unit (mJ)."""
    ops = sum(layer.ops_per_inference for layer in layers)
    act_bytes = sum(layer.act_bytes_per_inference for layer in layers)
    weight_bytes = sum(layer.weight_bytes_per_inference for layer in layers)
    traffic_pj = power.pj_per_op * ops + power.pj_per_act_byte * act_bytes + power.pj_per_weight_byte * weight_bytes
    return power.active_mw * latency_ms * UJ_TO_MJ + traffic_pj * PJ_TO_MJ


def power_mw(static_mw: float, energy_per_inference_mj: float, inferences_per_s: float) -> float:
    """Average power of running one inference ``inferences_per_s`` times per second (mW)."""
    return static_mw + energy_per_inference_mj * inferences_per_s
