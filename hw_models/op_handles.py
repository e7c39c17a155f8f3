"""How each traced op is priced: the handle table that ``op_count`` gives to fvcore.

fvcore's ``FlopCountAnalysis`` prices only MAC-type ops (conv, linear, matmul; one "flop" per
multiply-accumulate, bias ignored) and skips or reports everything else. We keep its MAC handles and
add honest handles for the rest, in three kinds:

* **MAC** ops (conv, conv_transpose, linear, matmul): MACs from fvcore's own handles.
* **Element-wise** ops (elu, add, softplus, sign, mean, amax, ...): one *element operation* per output
  element of a pointwise op, per input element of a reduction. A transcendental (elu's exp) is still one
  element op: what it costs in cycles is the device profile's per-op-type coefficient, not this count.
* **Movement** ops (pad, cat, copy): no arithmetic, only activation bytes.

Every handle also records a :class:`NodeCost` (scope, op type, MACs, element ops, activation bytes,
weights) into a :class:`NodeRecorder`, which is how ``op_count`` gets a per-call layer list out of
fvcore's per-module analysis. Pure views and shape bookkeeping (reshape, transpose, squeeze, slice, size,
detach, dropout, constant creation) stay in fvcore's ignore list, and a handled op whose result is a 0-d
integer (the trace doing arithmetic on sizes) records nothing. Ops in neither table are fvcore's
``unsupported_ops()`` and are reported, never dropped.
"""

from __future__ import annotations

import enum
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from dslnas.hw_models.counts import BYTES_PER_ELEMENT

# The one place that imports fvcore: its package import scripts a few losses with torch.jit (deprecated).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import (
        addmm_flop_jit,
        bmm_flop_jit,
        conv_flop_jit,
        einsum_flop_jit,
        get_shape,
        linear_flop_jit,
        matmul_flop_jit,
    )

__all__ = ["BYTES_PER_ELEMENT", "FlopCountAnalysis", "NodeCost", "NodeRecorder", "OpKind"]


Handle = Callable[[list[Any], list[Any]], Counter]


class OpKind(str, enum.Enum):
    MAC = "mac"
    ELEMENTWISE = "elementwise"
    MOVEMENT = "movement"


_POINTWISE = (
    "elu", "relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "hardtanh", "softplus", "exp", "log",
    "sqrt", "rsqrt", "reciprocal", "abs", "sign", "neg", "add", "sub", "rsub", "mul", "div", "clamp", "pow",
    "maximum", "minimum", "where", "masked_fill", "softmax", "log_softmax", "batch_norm", "layer_norm",
    "group_norm", "instance_norm",
    # in fvcore's ignore list, so free there; priced here when they run on real (non 0-d) tensors
    "eq", "ne", "lt", "le", "gt", "ge", "floor", "ceil", "round", "remainder", "floor_divide", "bitwise_not",
    "__and__", "__or__", "logical_not", "logical_and", "logical_or",
)
_REDUCTIONS = ("mean", "sum", "amax", "amin", "max", "min", "var", "std", "norm", "logsumexp", "nonzero")
_MOVEMENT = (
    "pad", "constant_pad_nd", "reflection_pad1d", "replication_pad1d", "cat", "stack", "contiguous",
    "copy_", "repeat", "repeat_interleave", "roll", "flip", "index_select", "gather", "index", "index_put_",
)
_MAC_HANDLES: dict[str, Callable[..., Any]] = {
    "_convolution": conv_flop_jit, "linear": linear_flop_jit, "addmm": addmm_flop_jit,
    "matmul": matmul_flop_jit, "mm": matmul_flop_jit, "bmm": bmm_flop_jit, "einsum": einsum_flop_jit,
}
_RENAMES = {"constant_pad_nd": "pad", "reflection_pad1d": "pad", "replication_pad1d": "pad", "addmm": "linear",
            "mm": "matmul", "bmm": "matmul", "einsum": "matmul", "copy_": "copy", "index_put_": "index_put"}


@dataclass(frozen=True)
class NodeCost:
    """What one traced op costs, for the traced input (one inference)."""

    scope: str
    op_type: str
    kind: OpKind
    macs: int
    elementwise_ops: int
    act_bytes: int
    params: int


@dataclass
class NodeRecorder:
    """Collects one :class:`NodeCost` per priced graph node, in graph order."""

    n_model_inputs: int = 1
    nodes: list[NodeCost] = field(default_factory=list)

    def handles(self) -> dict[str, Handle]:
        """The full handle table, ``{"aten::<op>": handle}``, in-place variants included."""
        table: dict[str, Handle] = {}
        for name, fv_handle in _MAC_HANDLES.items():
            table[f"aten::{name}"] = self._mac_handle(name, fv_handle)
        for name in _POINTWISE + _REDUCTIONS:
            handle = self._elementwise_handle(name, per_input=name in _REDUCTIONS)
            table[f"aten::{name}"] = table[f"aten::{name}_"] = handle
        for name in _MOVEMENT:
            table[f"aten::{name}"] = self._movement_handle(name)
        return table

    def _mac_handle(self, name: str, fv_handle: Callable[..., Any]) -> Handle:
        def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
            counted = fv_handle(inputs, outputs)
            macs = int(sum(counted.values()) if isinstance(counted, Counter) else counted)
            op_type = _RENAMES.get(name, name)
            if name == "_convolution":
                op_type = "conv_transpose" if inputs[6].toIValue() else "conv"
            self._record(op_type, OpKind.MAC, inputs, outputs, macs=macs)
            return Counter({op_type: macs})

        return handle

    def _elementwise_handle(self, name: str, per_input: bool) -> Handle:
        def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
            counted = _activation_inputs(inputs, self.n_model_inputs)[:1] if per_input else outputs[:1]
            ops = sum(_elements(v) for v in counted)
            self._record(name, OpKind.ELEMENTWISE, inputs, outputs, elementwise_ops=ops)
            return Counter({name: 0})  # no MACs; element ops live in the recorder

        return handle

    def _movement_handle(self, name: str) -> Handle:
        def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
            op_type = _RENAMES.get(name, name)
            self._record(op_type, OpKind.MOVEMENT, inputs, outputs)
            return Counter({op_type: 0})

        return handle

    def _record(self, op_type: str, kind: OpKind, inputs: list[Any], outputs: list[Any],
                macs: int = 0, elementwise_ops: int = 0) -> None:
        if _is_shape_arithmetic(outputs):
            return
        acts = _activation_inputs(inputs, self.n_model_inputs) + [v for v in outputs if _is_tensor(v)]
        params = sum(_elements(v) for v in inputs if _is_param(v, self.n_model_inputs))
        scope = outputs[0].node().scopeName().split("/")[-1]
        act_bytes = BYTES_PER_ELEMENT * sum(_elements(v) for v in acts)
        self.nodes.append(NodeCost(scope, op_type, kind, macs, elementwise_ops, act_bytes, params))


def _is_tensor(value: Any) -> bool:
    return value.isCompleteTensor()


def _elements(value: Any) -> int:
    shape = get_shape(value)
    return math.prod(shape) if shape is not None else 0


def _is_param(value: Any, n_model_inputs: int) -> bool:
    """A traced weight: a graph input after the model's own inputs."""
    return value.node().kind() == "prim::Param" and value.offset() >= n_model_inputs and _is_tensor(value)


def _activation_inputs(inputs: list[Any], n_model_inputs: int) -> list[Any]:
    """Tensor inputs that are activations (not weights); tensor lists (``cat``) are expanded."""
    found: list[Any] = []
    for value in inputs:
        if value.node().kind() == "prim::ListConstruct":
            found += _activation_inputs(list(value.node().inputs()), n_model_inputs)
        elif _is_tensor(value) and not _is_param(value, n_model_inputs):
            found.append(value)
    return found


def _is_shape_arithmetic(outputs: list[Any]) -> bool:
    """A 0-d integer result: the trace doing arithmetic on sizes, not work the device runs."""
    if not outputs or not _is_tensor(outputs[0]):
        return True
    out_type = outputs[0].type()
    return len(out_type.sizes()) == 0 and out_type.scalarType() not in ("Float", "Double", "Half", "BFloat16")
