"""Per-layer latency model and its non-negative least-squares fit.

The latency of one inference (one routing segment of audio) over a layer list is

    latency_ms = sum over layers of (ns_per_op[op] * ops + ns_per_act_byte[op] * act_bytes
                                     + ns_per_weight_byte[op] * weight_bytes) * 1e-6 + us_per_layer[op] * 1e-3

with non-negative coefficients per op type (:class:`~dslnas.hw_models.profile.OpLatency`). ``ops`` are
MACs for MAC op types and element operations for element-wise ones; ``weight_bytes`` are the fp32
weights a layer reads. The weight term is what makes a layer with few output frames and many weights
(the tails of an audio encoder) slow per MAC: each weight is fetched and set up once per call whatever
the number of frames it is then used for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from dslnas.hw_models.counts import LayerCount
from dslnas.hw_models.profile import OpLatency

TERMS = ("ns_per_op", "ns_per_act_byte", "ns_per_weight_byte", "us_per_layer")
_TERM_TO_MS = np.array([1e-6, 1e-6, 1e-6, 1e-3])  # coefficient unit * feature -> milliseconds


@dataclass(frozen=True)
class FitStats:
    """How well fitted coefficients reproduce the measurements they were fitted on.

    ``mape_pct``: mean absolute percentage error; ``within_5pct_share`` / ``within_10pct_share``: the
    fraction of samples (0..1) predicted within +-5 % / +-10 %; ``max_abs_error_pct``: the worst sample.
    """

    n_samples: int
    mape_pct: float
    within_5pct_share: float
    within_10pct_share: float
    max_abs_error_pct: float


def layer_features(layer: LayerCount) -> np.ndarray:
    """The four per-layer features in :data:`TERMS` order: ops, act bytes, weight bytes, 1 (a call)."""
    return np.array(
        [layer.ops_per_inference, layer.act_bytes_per_inference, layer.weight_bytes_per_inference, 1.0],
        dtype=float,
    )


def layer_latency_ms(layer: LayerCount, coefficients: Mapping[str, OpLatency]) -> float:
    """Latency of one layer call; KeyError when ``coefficients`` has no entry for its op type."""
    coef = coefficients[layer.op_type]
    values = np.array([coef.ns_per_op, coef.ns_per_act_byte, coef.ns_per_weight_byte, coef.us_per_layer])
    return float(np.dot(layer_features(layer) * _TERM_TO_MS, values))


def latency_ms(layers: Sequence[LayerCount], coefficients: Mapping[str, OpLatency]) -> float:
    """Latency of one inference over ``layers`` (ms); KeyError for an op type without coefficients."""
    return sum(layer_latency_ms(layer, coefficients) for layer in layers)


def fit_latency_coefficients(
    samples: list[tuple[tuple[LayerCount, ...], float]],
) -> tuple[dict[str, OpLatency], FitStats]:
    """Fit non-negative per-op-type coefficients to measured latencies.

    ``samples``: ``(layers, measured_latency_ms)`` pairs, one per measured model (or path), where
    ``layers`` is a ``PathCounts.layers`` tuple (or several concatenated) for ONE inference and
    ``measured_latency_ms`` the measured latency of that inference in milliseconds (> 0).

    Returns ``({op_type: OpLatency}, FitStats)``. Solved with ``scipy.optimize.nnls`` on a column-scaled
    design matrix (one column per op type and term). A term that no sample exercises (an all-zero column)
    gets 0; coefficients are only identifiable when the samples vary the features independently, so use
    more varied samples than ``4 * n_op_types``. Raises ValueError on empty input or a latency <= 0.
    """
    if not samples:
        raise ValueError("fit_latency_coefficients needs at least one sample")
    if any(not measured > 0 for _, measured in samples):
        raise ValueError("every measured latency must be > 0 ms")
    op_types = sorted({layer.op_type for layers, _ in samples for layer in layers})
    design = np.stack([_design_row(layers, op_types) for layers, _ in samples])
    measured = np.array([m for _, m in samples], dtype=float)
    scale = np.linalg.norm(design, axis=0)
    scale[scale == 0] = 1.0
    solution, _ = nnls(design / scale, measured)
    values = (solution / scale).reshape(len(op_types), len(TERMS))
    coefficients = {op: OpLatency(**dict(zip(TERMS, map(float, row)))) for op, row in zip(op_types, values)}
    predicted = np.array([latency_ms(layers, coefficients) for layers, _ in samples])
    return coefficients, fit_stats(predicted, measured)


def _design_row(layers: Sequence[LayerCount], op_types: list[str]) -> np.ndarray:
    """Per op type, the sum of its layers' features converted so that row @ coefficients is in ms."""
    row = np.zeros((len(op_types), len(TERMS)))
    index = {op: i for i, op in enumerate(op_types)}
    for layer in layers:
        row[index[layer.op_type]] += layer_features(layer) * _TERM_TO_MS
    return row.ravel()


def fit_stats(predicted_ms: np.ndarray, measured_ms: np.ndarray) -> FitStats:
    """Percentage-error summary of predictions against measurements (same order, measured > 0)."""
    error_pct = np.abs(np.asarray(predicted_ms) - measured_ms) / measured_ms * 100.0
    return FitStats(
        n_samples=len(error_pct),
        mape_pct=float(error_pct.mean()),
        within_5pct_share=float((error_pct <= 5.0).mean()),
        within_10pct_share=float((error_pct <= 10.0).mean()),
        max_abs_error_pct=float(error_pct.max()),
    )
