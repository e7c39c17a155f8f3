"""The ELU's data-dependent cost: each ELU call's share of negative inputs, carried on its :class:`LayerCount`.

The exported C ELU (``c_export/dsl_runtime.c``: ``x > 0 ? x : expf(x) - 1``) runs ``expf`` only for negative
inputs, so a pass's cycles depend on its weights and data, which op counts cannot see. Here the share is
measured by running the encoder's parts on audio with every ``F.elu`` call observed (a torch function mode,
so functional and module ELUs alike, in call order), and attached to the counted ELU layers of each part
(:func:`with_negative_shares`: the k-th ELU call of a part is its k-th counted ``elu`` layer, as fvcore
traces them in execution order). The latency model prices ``ops x share`` as ``elu.negatives``
(:data:`~dslnas.hw_models.latency_model.KERNEL_TERMS`); a layer without a measured share is priced at
:data:`~dslnas.hw_models.counts.ASSUMED_NEGATIVE_SHARE`, said in the docs.

Where the shares come from: for calibration, the suite candidate's seeded fresh weights on the same
audio the emulated board is given (:func:`suite_negative_shares`); for a trained candidate, its held-out
audio (:func:`negative_input_shares` on any clip).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from dslnas.hw_models.counts import EncoderCounts, Part
from dslnas.spaces.candidate import CandidateConfig

ELU_OP = "elu"


class _EluShares(TorchFunctionMode):
    """Records, per ``F.elu`` call, the share of its input elements below zero."""

    def __init__(self) -> None:
        super().__init__()
        self.shares: list[float] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's protocol)
        if func is F.elu:
            self.shares.append(float((args[0] < 0).float().mean()))
        return func(*args, **(kwargs or {}))


def negative_input_shares(encoder: torch.nn.Module, audio: torch.Tensor) -> dict[Part, tuple[float, ...]]:
    """Per part, each ELU call's share of negative inputs (call order) on ``audio`` ``[B, 1, T]``.

    ``encoder``: a ``DSLEncoder`` (its ``base``, ``mask``, ``switch``, ``full_tail``, ``light_tail``)."""
    shares: dict[Part, tuple[float, ...]] = {}
    with torch.no_grad():
        features = _observed(encoder.base, audio, shares, Part.BASE)
        masked = _observed(encoder.mask, features, shares, Part.MASK)
        for part, module in ((Part.SWITCH, encoder.switch), (Part.FULL_TAIL, encoder.full_tail),
                             (Part.LIGHT_TAIL, encoder.light_tail)):
            _observed(module, masked, shares, part)
    return shares


def _observed(module: torch.nn.Module, x: torch.Tensor, into: dict[Part, tuple[float, ...]], part: Part) -> torch.Tensor:
    with _EluShares() as mode:
        out = module(x)
    into[part] = tuple(mode.shares)
    return out


def with_negative_shares(counts: EncoderCounts, shares: Mapping[Part, Sequence[float]]) -> EncoderCounts:
    """``counts`` with each part's ``elu`` layers carrying their measured share (in order); ValueError when a
    part's ELU calls and counted ELU layers differ in number."""
    paths = dict(counts.paths)
    for part, found in shares.items():
        layers = list(paths[part].layers)
        elus = [i for i, layer in enumerate(layers) if layer.op_type == ELU_OP]
        if len(elus) != len(found):
            raise ValueError(f"part {part.value}: {len(found)} ELU calls observed, {len(elus)} elu layers counted")
        for index, share in zip(elus, found):
            layers[index] = replace(layers[index], negative_input_share=float(share))
        paths[part] = replace(paths[part], layers=tuple(layers))
    return replace(counts, paths=paths)


def suite_negative_shares(candidate: CandidateConfig, seed: int, segments: int = 3) -> dict[Part, tuple[float, ...]]:
    """Shares for a calibration-suite candidate: its fresh weights seeded by ``seed`` (as ``export_suite``
    seeds them) on the audio the emulated board streams through a pass (``emulated_arm.segment_inputs``)."""
    from dslnas.hw_models.runners.emulated_arm import segment_inputs
    from dslnas.trainers.codec import build_codec

    torch.manual_seed(seed)
    encoder = build_codec(candidate).encoder.eval()
    audio = segment_inputs(candidate.segment_samples, 1, segments)
    return negative_input_shares(encoder, torch.from_numpy(np.ascontiguousarray(audio.reshape(1, 1, -1))))
