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
audio the emulated board is given (:func:`suite_negative_shares`); for a trained candidate, the clips its
streaming evaluation scored (:func:`clip_negative_shares`), carried into its price by ``CostModel.pricer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from dslnas.hw_models.counts import Part, with_negative_shares  # noqa: F401  (re-exported)
from dslnas.spaces.candidate import CandidateConfig


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


def clip_negative_shares(encoder: torch.nn.Module, clips: Sequence[torch.Tensor]) -> dict[Part, tuple[float, ...]]:
    """Per part, each ELU's share of negative inputs over ``clips`` (each ``[T]``, a multiple of the segment or
    not: the encoder is causal, so running it offline computes the activations the streaming run computes),
    the clips weighted by their length. What a trained candidate's price carries (``CostModel.pricer``)."""
    if not clips:
        raise ValueError("measuring ELU shares needs at least one clip")
    weights = np.array([clip.shape[-1] for clip in clips], dtype=float)
    per_clip = [negative_input_shares(encoder, clip.reshape(1, 1, -1).to(torch.float32)) for clip in clips]
    return {part: tuple(float(v) for v in np.average([np.array(s[part]) for s in per_clip], axis=0, weights=weights))
            for part in per_clip[0] if per_clip[0][part]}


def routed_negative_shares(encoder: torch.nn.Module, segments: np.ndarray, light: Sequence[bool]
                           ) -> dict[Part, tuple[float, ...]]:
    """Shares of a routed run: the front parts on every segment, each tail on the segments routed to it
    (``segments``: ``[S, segment_samples]``; ``light``: per segment, whether it took the light path). A tail
    sees its own segments' activations (loud segments go full, quiet ones light), not the whole run's; the
    segments routed to one tail are run back to back (its causal history from them, as the tail keeps it)."""
    audio = torch.from_numpy(np.ascontiguousarray(segments, dtype=np.float32))
    shares = negative_input_shares(encoder, audio.reshape(1, 1, -1))
    routed = torch.tensor(list(light), dtype=torch.bool)
    for part, chosen in ((Part.LIGHT_TAIL, routed), (Part.FULL_TAIL, ~routed)):
        if bool(chosen.any()):
            shares[part] = negative_input_shares(encoder, audio[chosen].reshape(1, 1, -1))[part]
    return shares


def suite_negative_shares(candidate: CandidateConfig, seed: int, segments: int = 3) -> dict[Part, tuple[float, ...]]:
    """Shares for a calibration-suite candidate: its fresh weights seeded by ``seed`` (as ``export_suite``
    seeds them) on the audio the emulated board streams through a pass (``emulated_arm.segment_inputs``)."""
    from dslnas.hw_models.runners.emulated_arm import segment_inputs
    from dslnas.trainers.codec import build_codec

    torch.manual_seed(seed)
    encoder = build_codec(candidate).encoder.eval()
    audio = segment_inputs(candidate.segment_samples, 1, segments)
    return negative_input_shares(encoder, torch.from_numpy(np.ascontiguousarray(audio.reshape(1, 1, -1))))
