"""Per-layer latency model and its non-negative least-squares fit.

The latency of one inference (one routing segment of audio) over a layer list is

    latency_ms = sum over layers of (ns_per_op[op] * ops + ns_per_act_byte[op] * act_bytes
                                     + ns_per_weight_byte[op] * weight_bytes) * 1e-6 + us_per_layer[op] * 1e-3

with non-negative coefficients per op type (:class:`~dslnas.hw_models.profile.OpLatency`). ``ops`` are
MACs for MAC op types and element operations for element-wise ones; ``weight_bytes`` are the fp32
weights a layer reads. The weight term is what makes a layer with few output frames and many weights
(the tails of an audio encoder) slow per MAC: each weight is fetched and set up once per call whatever
the number of frames it is then used for.

**Kernel terms** (optional, :data:`KERNEL_TERMS`): a profile may also price what the portable C conv kernel
(``c_export/dsl_runtime.c``, ``dsl_conv_dense``) executes besides MACs: it blocks four output frames per
pass, so it pays a loop overhead per (output channel, frame pass, input channel) -- ``conv.rows`` -- and
runs the ``n_out % 4`` leftover frames unblocked, at a higher cost per MAC -- ``conv.remainder_macs``;
``conv.frames`` counts (output channel, frame pass) pairs; ``elu.negatives`` counts the ELU inputs below zero
(each an ``expf`` call in the C ELU: the layer's elements x its measured share of negative inputs,
``LayerCount.negative_inputs_per_inference``). A kernel term's count goes in the ``ops``
feature of its key (``ns_per_op`` of ``latency["conv.rows"]`` is ns per row pass). The counts need the conv's
shape, which :func:`conv_geometry` recovers from the counted layer and the ``pad`` before it (see there).
A profile without these keys prices exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from dslnas.hw_models.counts import BYTES_PER_ELEMENT, LayerCount
from dslnas.hw_models.profile import OpLatency

TERMS = ("ns_per_op", "ns_per_act_byte", "ns_per_weight_byte", "us_per_layer")
KERNEL_TERMS = ("conv.rows", "conv.remainder_macs", "conv.frames", "elu.negatives")
FRAME_BLOCK = 4  # output frames per register-blocked pass of dsl_conv_dense
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


def _coef_ms(features: np.ndarray, coef: OpLatency) -> float:
    values = np.array([coef.ns_per_op, coef.ns_per_act_byte, coef.ns_per_weight_byte, coef.us_per_layer])
    return float(np.dot(features * _TERM_TO_MS, values))


def layer_latency_ms(layer: LayerCount, coefficients: Mapping[str, OpLatency]) -> float:
    """Latency of one layer call, op-type terms only; KeyError when ``coefficients`` has no entry for its op type."""
    return _coef_ms(layer_features(layer), coefficients[layer.op_type])


def latency_ms(layers: Sequence[LayerCount], coefficients: Mapping[str, OpLatency]) -> float:
    """Latency of one inference over ``layers`` (ms), kernel terms included when ``coefficients`` has them.

    KeyError for an op type without coefficients.
    """
    total = sum(layer_latency_ms(layer, coefficients) for layer in layers)
    if any(key in coefficients for key in KERNEL_TERMS):
        for key, count in kernel_term_counts(layers).items():
            if key in coefficients:
                total += _coef_ms(np.array([count, 0.0, 0.0, 0.0]), coefficients[key])
    return total


@dataclass(frozen=True)
class ConvGeometry:
    """A conv's shape recovered from its counts: ``[C_in, n_src] -> [C_out, n_out]``, kernel ``k``, ``stride``."""

    c_out: int
    c_in: int
    k: int
    n_out: int
    n_src: int
    stride: int


def conv_geometry(layers: Sequence[LayerCount]) -> list[ConvGeometry | None]:
    """Per layer, the conv's geometry (None for other layers and for a conv no shape explains).

    A conv with a bias has ``params = C_out (C_in K + 1)``, ``MACs = C_out C_in K n_out`` and activation
    elements ``C_in n_src + C_out n_out``; a causal conv is preceded by its ``pad`` (activation elements
    ``C_in (n_unpadded + n_src)``, ``n_unpadded = stride * n_out``, left pad ``dilation (K - 1) + 1 - stride``),
    a plain conv is pointwise. That fixes ``C_out``, ``C_in K`` and ``n_out`` uniquely; ``C_in`` against ``K``
    is taken as the previous conv's ``C_out`` when that fits (channels flow conv to conv), else ``C_in =
    C_out`` (a residual unit), else the smallest ``C_in`` (the stem reads 1-channel audio). The chain restarts
    after a ``linear`` (the switch head), so a pass's layers and its paths' layers one by one agree.
    """
    found: list[ConvGeometry | None] = []
    last_out: int | None = None
    for i, layer in enumerate(layers):
        if layer.op_type == "linear":  # the switch head: the next conv (a tail's first) reads the base output
            last_out = None
        options = _conv_shapes(layer, layers[i - 1] if i else None) if layer.op_type == "conv" else []
        if not options:
            found.append(None)
            continue
        pick = (next((g for g in options if g.c_in == last_out), None)
                or next((g for g in options if g.c_in == g.c_out), None) or min(options, key=lambda g: g.c_in))
        found.append(pick)
        last_out = pick.c_out
    return found


def _conv_shapes(layer: LayerCount, before: LayerCount | None) -> list[ConvGeometry]:
    macs, params, elements = layer.macs_per_inference, layer.params, layer.act_bytes_per_inference // BYTES_PER_ELEMENT
    padded = before is not None and before.op_type == "pad"
    shapes = []
    for per_out in _divisors(params):  # C_in K + 1
        cik = per_out - 1
        if cik < 1 or macs % cik or (macs // cik) % (params // per_out):
            continue
        c_out = params // per_out
        n_out = macs // cik // c_out
        inputs = elements - c_out * n_out
        for c_in in (c for c in _divisors(cik) if inputs > 0 and inputs % c == 0):
            k, n_src = cik // c_in, inputs // c_in
            if not padded:
                if k == 1 and n_src == n_out:
                    shapes.append(ConvGeometry(c_out, c_in, 1, n_out, n_src, 1))
                continue
            unpadded = before.act_bytes_per_inference // BYTES_PER_ELEMENT - inputs
            if unpadded <= 0 or unpadded % c_in or (unpadded // c_in) % n_out:
                continue
            stride, pad = unpadded // c_in // n_out, n_src - unpadded // c_in
            if _causal_pad_fits(pad, k, stride):
                shapes.append(ConvGeometry(c_out, c_in, k, n_out, n_src, stride))
    return shapes


def _causal_pad_fits(pad: int, k: int, stride: int) -> bool:
    """Whether ``pad = max(dilation (k - 1) + 1 - stride, 0)`` for some dilation >= 1."""
    if pad == 0:
        return k - stride <= 0
    return k > 1 and (pad + stride - 1) % (k - 1) == 0


def _divisors(n: int) -> list[int]:
    if n < 1:
        return []
    small = [i for i in range(1, math.isqrt(n) + 1) if n % i == 0]
    return sorted({*small, *(n // i for i in small)})


def kernel_term_counts(layers: Sequence[LayerCount]) -> dict[str, float]:
    """Counts of :data:`KERNEL_TERMS` over ``layers`` (one inference), from each conv's geometry and each
    ELU's negative inputs."""
    counts = dict.fromkeys(KERNEL_TERMS, 0.0)
    counts["elu.negatives"] = float(sum(layer.negative_inputs_per_inference for layer in layers if layer.op_type == "elu"))
    for geometry in conv_geometry(layers):
        if geometry is None:
            continue
        blocks, left = divmod(geometry.n_out, FRAME_BLOCK)
        passes = blocks + left  # one blocked pass per 4 frames, one scalar pass per leftover frame
        counts["conv.rows"] += geometry.c_out * geometry.c_in * passes
        counts["conv.remainder_macs"] += geometry.c_out * geometry.c_in * geometry.k * left
        counts["conv.frames"] += geometry.c_out * passes
    return counts


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
