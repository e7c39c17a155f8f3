"""Per-path op counts of a DSL encoder: MACs, parameters, activation bytes and layers, per second of audio.

Each path (``base``, ``mask``, ``switch``, ``full`` tail, ``light`` tail) is its own module, traced on its
own input of one routing segment (``candidate.segment_samples`` of audio; the tails and the DSL on the
base output for that segment), so both branches of the switch are priced in full, never "whatever ran in
a routed trace". Counts per segment are scaled to per second by ``sample_rate_hz / segment_samples``.

Counting is fvcore's ``FlopCountAnalysis`` (one MAC per conv/linear multiply-accumulate, bias adds not
counted; convs: ``C_in * C_out * K / groups`` MACs per output frame) with the extra handles of
:mod:`dslnas.hw_models.op_handles`; ops nothing can price are reported in ``unsupported_ops``.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import torch
from torch import nn

from dslnas.hw_models.counts import BYTES_PER_ELEMENT, EncoderCounts, LayerCount, Part, PathCounts
from dslnas.hw_models.op_handles import FlopCountAnalysis, NodeCost, NodeRecorder
from dslnas.spaces.candidate import CandidateConfig
from dslnas.trainers.encoder import DSLEncoder

if TYPE_CHECKING:  # the codec pulls in the quantizer's heavy imports; only its .encoder is needed here
    from dslnas.trainers.codec import DSLCodec

def count_candidate(candidate: CandidateConfig | DSLCodec | DSLEncoder) -> EncoderCounts:
    """Count every path of a candidate (built fresh) or of an already built codec/encoder, in eval mode (the
    graph a device runs: no training-only straight-through arithmetic); a module's mode is restored."""
    encoder = _encoder_of(candidate)
    was_training = encoder.training
    encoder.eval()
    try:
        return _count_encoder(encoder)
    finally:
        encoder.train(was_training)


def _count_encoder(encoder: DSLEncoder) -> EncoderCounts:
    config = encoder.candidate
    rate = config.encoder.sample_rate_hz
    per_s = rate / config.segment_samples
    audio = torch.randn(1, 1, config.segment_samples, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        base_out = encoder.base(audio)
        embedding = encoder.full_tail(base_out)
    modules = {Part.BASE: (encoder.base, audio), Part.MASK: (encoder.mask, base_out), Part.SWITCH: (encoder.switch, base_out),
               Part.FULL_TAIL: (encoder.full_tail, base_out), Part.LIGHT_TAIL: (encoder.light_tail, base_out)}
    paths = {name: count_module(module, inp, per_s) for name, (module, inp) in modules.items()}
    unsupported = {f"{name.value}:{op}": n for name, counts in paths.items() for op, n in counts.unsupported_ops.items()}
    encoder_params = paths[Part.BASE].params + paths[Part.FULL_TAIL].params
    return EncoderCounts(paths, encoder_params, unsupported, config.segment_samples, rate,
                         cut_elements_per_inference=base_out.numel(), embedding_elements_per_inference=embedding.numel(),
                         base_frames_per_inference=base_out.shape[-1],
                         state_bytes=_state_bytes(encoder, audio, base_out), quantizer=quantizer_layer(config))


def quantizer_layer(candidate: CandidateConfig) -> LayerCount:
    """The residual VQ's encoder-side work for one segment, as one MAC layer: every quantizer compares each
    embedding frame with each codeword (``K x D`` MACs per frame) and subtracts the chosen one (``D``)."""
    q, dim = candidate.quantizer, candidate.encoder.embedding_dim
    frames = candidate.dsl.segment_frames
    macs = frames * q.num_quantizers * dim * (q.codebook_size + 1)
    act_bytes = BYTES_PER_ELEMENT * frames * dim * (q.num_quantizers + 1)
    return LayerCount("quantizer", "linear", macs, act_bytes, q.num_quantizers * q.codebook_size * dim)


def _state_bytes(encoder: DSLEncoder, audio: torch.Tensor, base_out: torch.Tensor) -> dict[Part, int]:
    """fp32 bytes of the causal history each part keeps when it runs segment by segment (trainers.stream_state)."""
    from dslnas.trainers.stream_state import compile_stream

    parts = {Part.BASE: (encoder.base, audio), Part.FULL_TAIL: (encoder.full_tail, base_out),
             Part.LIGHT_TAIL: (encoder.light_tail, base_out)}
    sizes = {name: _nbytes(compile_stream(module).initial_state(inp)) for name, (module, inp) in parts.items()}
    return {**sizes, Part.MASK: 0, Part.SWITCH: 0}


def _nbytes(state: object) -> int:
    if isinstance(state, torch.Tensor):
        return state.numel() * BYTES_PER_ELEMENT
    return sum(_nbytes(s) for s in state) if isinstance(state, (tuple, list)) else 0


def count_module(module: nn.Module, inputs: torch.Tensor, inferences_per_s: float = 1.0) -> PathCounts:
    """Trace ``module`` on ``inputs`` (one inference) and count it; totals are scaled by ``inferences_per_s``."""
    recorder = NodeRecorder(n_model_inputs=1)
    analysis = FlopCountAnalysis(module, (inputs,)).set_op_handle(**recorder.handles())
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    with torch.no_grad():
        total_macs = analysis.total()
    layers = _layers(recorder.nodes)
    if sum(layer.macs_per_inference for layer in layers) != total_macs:
        raise RuntimeError("per-layer MACs disagree with fvcore's total: a handle recorded nothing")
    return PathCounts(
        params=sum(p.numel() for p in module.parameters()),
        macs_per_s=total_macs * inferences_per_s,
        elementwise_ops_per_s=sum(layer.elementwise_ops_per_inference for layer in layers) * inferences_per_s,
        act_bytes_per_s=sum(layer.act_bytes_per_inference for layer in layers) * inferences_per_s,
        layers_by_type=dict(Counter(layer.op_type for layer in layers)),
        layers=layers,
        unsupported_ops=dict(analysis.unsupported_ops()),
    )


def _layers(nodes: list[NodeCost]) -> tuple[LayerCount, ...]:
    seen: Counter[tuple[str, str]] = Counter()
    layers = []
    for node in nodes:
        scope = node.scope or "<root>"
        seen[(scope, node.op_type)] += 1
        name = f"{scope}:{node.op_type}#{seen[(scope, node.op_type)]}"
        layers.append(LayerCount(name, node.op_type, node.macs, node.act_bytes, node.params, node.elementwise_ops))
    return tuple(layers)


def _encoder_of(obj: CandidateConfig | DSLCodec | DSLEncoder) -> DSLEncoder:
    if isinstance(obj, CandidateConfig):
        return DSLEncoder(obj)
    encoder = obj if isinstance(obj, DSLEncoder) else getattr(obj, "encoder", None)
    if not isinstance(encoder, DSLEncoder):
        raise TypeError(f"expected a CandidateConfig, DSLCodec or DSLEncoder, got {type(obj).__name__}")
    return encoder
