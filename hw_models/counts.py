"""What op counting produces, as typed values: per-layer counts, per-path totals, the whole encoder.

Torch-free (the counting itself, :mod:`dslnas.hw_models.op_count`, traces modules with fvcore): the cost
model, the latency fit and the report read these types without importing torch.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

BYTES_PER_ELEMENT = 4  # fp32 deployment, whatever dtype the trace ran in
# The share of an ELU's inputs below zero (where the C ELU runs expf) assumed where none was measured: a
# pre-activation symmetric about zero, as fresh weights give (the calibration suite's measured mean is ~0.5).
ASSUMED_NEGATIVE_SHARE = 0.5
ELU_OP = "elu"


class Part(str, enum.Enum):
    """One counted and priced part of a DSL encoder; a pass (``routing.Pass``) runs the front parts and one tail.

    The values are the keys of stored records and ``--json`` output (``"full"`` there is the full *tail*; the
    field a key sits in says which one is meant, never a string literal in code).
    """

    BASE = "base"
    MASK = "mask"
    SWITCH = "switch"
    FULL_TAIL = "full"
    LIGHT_TAIL = "light"


FRONT_PARTS = (Part.BASE, Part.MASK, Part.SWITCH)  # what every pass runs before its tail
TAIL_PARTS = (Part.FULL_TAIL, Part.LIGHT_TAIL)
PATHS = tuple(Part)  # every part, in counting order


@dataclass(frozen=True)
class LayerCount:
    """One traced op call, per inference (one routing segment of audio).

    ``macs_per_inference``: multiply-accumulates (MAC op types only). ``elementwise_ops_per_inference``:
    element operations (element-wise op types only). ``act_bytes_per_inference``: fp32 activation bytes
    read plus written. ``params``: weights this call reads (a weight used twice counts twice here).
    ``negative_input_share``: for an ``elu``, the measured share of its inputs below zero (None: not measured;
    :mod:`dslnas.hw_models.elu_stats`), which sets how often the exported C ELU runs ``expf``.
    """

    name: str
    op_type: str
    macs_per_inference: int
    act_bytes_per_inference: int
    params: int
    elementwise_ops_per_inference: int = 0
    negative_input_share: float | None = None

    @property
    def negative_inputs_per_inference(self) -> float:
        """Inputs below zero per inference (an ``elu``'s ``expf`` calls): ops x the measured or assumed share."""
        share = ASSUMED_NEGATIVE_SHARE if self.negative_input_share is None else self.negative_input_share
        return self.elementwise_ops_per_inference * share

    @property
    def ops_per_inference(self) -> int:
        """Arithmetic work: MACs for MAC op types, element operations for element-wise ones."""
        return self.macs_per_inference + self.elementwise_ops_per_inference

    @property
    def weight_bytes_per_inference(self) -> int:
        """fp32 weight bytes this call reads."""
        return BYTES_PER_ELEMENT * self.params


@dataclass(frozen=True)
class PathCounts:
    """One path's counts: totals per second of audio and the per-inference layer list."""

    params: int
    macs_per_s: float
    elementwise_ops_per_s: float
    act_bytes_per_s: float
    layers_by_type: dict[str, int]
    layers: tuple[LayerCount, ...]
    unsupported_ops: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "macs_per_s": self.macs_per_s,
            "elementwise_ops_per_s": self.elementwise_ops_per_s,
            "act_bytes_per_s": self.act_bytes_per_s,
            "layers_by_type": dict(sorted(self.layers_by_type.items())),
        }


@dataclass(frozen=True)
class EncoderCounts:
    """All five paths of one encoder. ``encoder_params``: base + full tail (the encoder without the DSL).

    ``unsupported_ops``: ``{"<path>:<aten op>": calls}`` for ops no handle could price (0 MACs assumed there).
    ``cut_elements_per_inference``: elements of the mask output (what a tail on another unit must receive);
    ``embedding_elements_per_inference``: elements of the encoder output for one segment.
    ``state_bytes``: per path, the fp32 causal history its convs keep between segments when streamed.
    """

    paths: dict[Part, PathCounts]
    encoder_params: int
    unsupported_ops: dict[str, int]
    segment_samples: int
    sample_rate_hz: int
    cut_elements_per_inference: int = 0
    embedding_elements_per_inference: int = 0
    state_bytes: dict[Part, int] = field(default_factory=dict)  # causal history each path keeps (streaming)
    quantizer: LayerCount | None = None  # the residual VQ's nearest-codeword search for one segment
    base_frames_per_inference: int = 0   # masked base frames one segment gives a tail (what a warm replay counts in)

    def weight_bytes(self, path: Part) -> int:
        """fp32 weight bytes of one part (``base``, ``mask``, ``switch``, ``full``, ``light``)."""
        return BYTES_PER_ELEMENT * self.paths[path].params

    def peak_activation_bytes(self, path: Part) -> int:
        """The largest single layer's activation bytes (read + written) of one part, per inference."""
        return max((layer.act_bytes_per_inference for layer in self.paths[path].layers), default=0)

    @property
    def inferences_per_s(self) -> float:
        """Routing segments (inferences) per second of audio."""
        return self.sample_rate_hz / self.segment_samples

    def to_json(self) -> dict[str, Any]:
        """The ``dslnas describe --json`` shape: ``{"encoder_params", "paths": {path: {...}}}``."""
        return {
            "encoder_params": self.encoder_params,
            "paths": {name.value: self.paths[name].to_json() for name in PATHS},
        }


class EluShares(str, enum.Enum):
    """Where the ELU negative-input shares a price used came from (said in every :class:`~dslnas.hw_models.cost.Cost`)."""

    MEASURED = "measured"   # every counted ELU carries a share measured on audio
    ASSUMED = "assumed"     # none does: each priced at ASSUMED_NEGATIVE_SHARE
    PARTLY = "partly measured"
    NO_ELU = "no ELU"


def with_negative_shares(counts: EncoderCounts, shares: Mapping[Part, Sequence[float]]) -> EncoderCounts:
    """``counts`` with each part's ``elu`` layers carrying their measured share (in order); ValueError when a
    part's ELU calls and counted ELU layers differ in number."""
    paths = dict(counts.paths)
    for part, found in shares.items():
        part = Part(part)
        layers = list(paths[part].layers)
        elus = [i for i, layer in enumerate(layers) if layer.op_type == ELU_OP]
        if len(elus) != len(found):
            raise ValueError(f"part {part.value}: {len(found)} ELU calls observed, {len(elus)} elu layers counted")
        for index, share in zip(elus, found):
            layers[index] = replace(layers[index], negative_input_share=float(share))
        paths[part] = replace(paths[part], layers=tuple(layers))
    return replace(counts, paths=paths)


def negative_shares(counts: EncoderCounts) -> dict[Part, tuple[float, ...]]:
    """Per part with ELUs that all carry a measured share, those shares in order (what :func:`with_negative_shares` takes)."""
    out = {}
    for part, path in counts.paths.items():
        shares = [layer.negative_input_share for layer in path.layers if layer.op_type == ELU_OP]
        if shares and all(s is not None for s in shares):
            out[part] = tuple(float(s) for s in shares)
    return out


def elu_share_source(counts: EncoderCounts) -> EluShares:
    """Whether the counted ELUs carry measured shares: all, none (assumed), some, or there is no ELU."""
    shares = [layer.negative_input_share for path in counts.paths.values() for layer in path.layers
              if layer.op_type == ELU_OP]
    measured = sum(s is not None for s in shares)
    if not shares:
        return EluShares.NO_ELU
    return EluShares.MEASURED if measured == len(shares) else EluShares.ASSUMED if not measured else EluShares.PARTLY
