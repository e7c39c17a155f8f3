"""C text for the layers of a :class:`~dslnas.hw_models.c_export.program.Program`: weights and chain functions.

A chain becomes ``static void dsl_chain_<name>(st, x, ldx, n, out, ldo)``: ``n`` input frames (a multiple of the
chain's hop) read from ``x`` (row stride ``ldx``), ``n / hop`` output frames written to ``out`` (row stride
``ldo``). Activations ping-pong between the scratch regions ``S_A`` and ``S_B``; every causal conv gathers
``[history ++ new frames]`` into ``S_CAT``. :class:`ScratchPlan` records the floats each region needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dslnas.hw_models.c_export.program import Chain, CExportError, Conv, Elu, Residual

VALUES_PER_LINE = 8


@dataclass
class ScratchPlan:
    """Largest float count each scratch region is asked to hold (filled while chains are emitted)."""

    floats: dict[str, int] = field(default_factory=lambda: {"S_A": 0, "S_B": 0, "S_CAT": 0})

    def need(self, region: str, count: int) -> None:
        self.floats[region] = max(self.floats.get(region, 0), int(count))


@dataclass
class WeightTable:
    """``static const`` arrays and conv descriptors, and how many bytes of weights they hold."""

    lines: list[str] = field(default_factory=list)
    weight_bytes: int = 0

    def array(self, name: str, values: np.ndarray) -> str:
        flat = np.asarray(values, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(flat)):
            raise CExportError(f"weight array {name} holds non-finite values")
        body = ",\n".join("    " + ", ".join(_float(v) for v in flat[i:i + VALUES_PER_LINE])
                          for i in range(0, flat.size, VALUES_PER_LINE))
        self.lines.append(f"static const float {name}[{flat.size}] = {{\n{body}\n}};")
        self.weight_bytes += 4 * flat.size
        return name

    def conv(self, name: str, conv: Conv, sparse: bool) -> str:
        layout = conv.weight.transpose(1, 2, 0) if sparse else conv.weight  # sparse: [c_in][k][c_out]
        w = self.array(f"W_{name}", layout)
        b = self.array(f"B_{name}", conv.bias)
        self.lines.append(f"static const dsl_conv_t L_{name} = {{{w}, {b}, {conv.c_in}, {conv.c_out}, {conv.kernel}, "
                          f"{conv.stride}, {conv.dilation}, {conv.history_frames}, {int(sparse)}}};")
        return f"&L_{name}"


def _float(value: float) -> str:
    text = f"{float(value):.9g}"
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def frames_expr(divisor: int) -> str:
    return "n" if divisor == 1 else f"(n / {divisor})"


@dataclass
class _Cursor:
    """Where the chain's current activation lives: a C pointer expression, its row stride, channels, hop so far."""

    ptr: str
    ld: str
    channels: int
    divisor: int = 1
    pending_elu: bool = False


def emit_chain(chain: Chain, frames_max: int, weights: WeightTable, plan: ScratchPlan, sparse_first: bool) -> tuple[str, int]:
    """The C function of ``chain`` and its history floats (the size of ``st->hist_<name>``).

    ``frames_max``: the largest ``n`` the function is called with (sizes the scratch regions);
    ``sparse_first``: the chain's first conv accumulates over non-zero inputs only.
    """
    body: list[str] = []
    cur = _Cursor("x", "ldx", chain.c_in)
    history = 0
    convs_seen = 0
    for index, op in enumerate(chain.ops):
        last = index == len(chain.ops) - 1
        if isinstance(op, Elu):
            if cur.pending_elu:
                cur = _materialize(cur, body, frames_max, plan)
            cur.pending_elu = True
            continue
        if cur.pending_elu and isinstance(op, Residual):
            cur = _materialize(cur, body, frames_max, plan)
        if isinstance(op, Conv):
            name = f"{chain.name}_{index}"
            ref = weights.conv(name, op, sparse_first and convs_seen == 0)
            hist_ptr, history = _history(chain, op, history)
            cur = _conv(ref, op, hist_ptr, cur, last, body, frames_max, plan)
            convs_seen += 1
        else:
            hist_ptr, history = _history(chain, op.conv, history)
            cur = _residual(chain, index, op, hist_ptr, cur, weights, body, frames_max, plan,
                            sparse_first and convs_seen == 0)
            convs_seen += 2
    if cur.pending_elu:
        cur = _materialize(cur, body, frames_max, plan)
    if cur.ptr != "out":
        body.append(f"    dsl_copy(out, ldo, {cur.ptr}, {cur.ld}, {cur.channels}, {frames_expr(cur.divisor)});")
    signature = (f"/* {chain.name}: [{chain.c_in}][n] -> [{chain.c_out}][n / {chain.hop_frames}], "
                 f"{len(chain.ops)} ops */\n"
                 f"static void dsl_chain_{chain.name}(dsl_state_t *st, const float *x, int ldx, int n,\n"
                 f"                            float *out, int ldo)\n{{")
    unused = "    (void)st;\n" if history == 0 else ""
    return "\n".join([signature, unused + "\n".join(body), "}"]), history


def _history(chain: Chain, conv: Conv, offset: int) -> tuple[str, int]:
    if conv.history_frames == 0:
        return "(float *)0", offset
    return f"st->hist_{chain.name} + {offset}", offset + conv.c_in * conv.history_frames


def _free_buffer(cur: _Cursor) -> str:
    return "S_B" if cur.ptr == "S_A" else "S_A"


def _conv(ref: str, conv: Conv, hist: str, cur: _Cursor, last: bool, body: list[str], frames_max: int,
          plan: ScratchPlan) -> _Cursor:
    divisor = cur.divisor * conv.stride
    dst, ld = ("out", "ldo") if last else (_free_buffer(cur), frames_expr(divisor))
    if conv.history_frames > 0 or cur.pending_elu:
        plan.need("S_CAT", conv.c_in * (conv.history_frames + frames_max // cur.divisor))
    if not last:
        plan.need(dst, conv.c_out * (frames_max // divisor))
    body.append(f"    dsl_stream_conv({ref}, {hist}, {cur.ptr}, {cur.ld}, {frames_expr(cur.divisor)}, "
                f"{int(cur.pending_elu)}, S_CAT, {dst}, {ld}, 0);")
    return _Cursor(dst, ld, conv.c_out, divisor)


def _residual(chain: Chain, index: int, op: Residual, hist: str, cur: _Cursor, weights: WeightTable,
              body: list[str], frames_max: int, plan: ScratchPlan, sparse: bool) -> _Cursor:
    frames = frames_expr(cur.divisor)
    size = cur.channels * (frames_max // cur.divisor)
    if cur.ptr not in ("S_A", "S_B"):  # x + ... accumulates in place: move x into a scratch region first
        body.append(f"    dsl_copy(S_A, {frames}, {cur.ptr}, {cur.ld}, {cur.channels}, {frames});")
        cur = _Cursor("S_A", frames, cur.channels, cur.divisor)
    tmp = _free_buffer(cur)
    plan.need(cur.ptr, size)
    plan.need(tmp, op.conv.c_out * (frames_max // cur.divisor))
    plan.need("S_CAT", op.conv.c_in * (op.conv.history_frames + frames_max // cur.divisor))
    conv_ref = weights.conv(f"{chain.name}_{index}_conv", op.conv, sparse)
    pw_ref = weights.conv(f"{chain.name}_{index}_pw", op.pointwise, False)
    body.append(f"    dsl_stream_conv({conv_ref}, {hist}, {cur.ptr}, {frames}, {frames}, 1, S_CAT, {tmp}, {frames}, 0);")
    body.append(f"    dsl_stream_conv({pw_ref}, (float *)0, {tmp}, {frames}, {frames}, 1, S_CAT, {cur.ptr}, {frames}, 1);")
    return cur


def _materialize(cur: _Cursor, body: list[str], frames_max: int, plan: ScratchPlan) -> _Cursor:
    """Apply a pending ELU now (copying a read-only input into scratch first)."""
    frames = frames_expr(cur.divisor)
    if cur.ptr not in ("S_A", "S_B"):
        body.append(f"    dsl_copy(S_A, {frames}, {cur.ptr}, {cur.ld}, {cur.channels}, {frames});")
        cur = _Cursor("S_A", frames, cur.channels, cur.divisor)
        plan.need("S_A", cur.channels * (frames_max // cur.divisor))
    body.append(f"    dsl_elu_inplace({cur.ptr}, {cur.ld}, {cur.channels}, {frames});")
    return _Cursor(cur.ptr, cur.ld, cur.channels, cur.divisor)
