"""The SoundStream-style codec with a Dynamic Switch Layer, assembled by composition.

``DSLCodec = DSLEncoder -> ResidualQuantizer -> Decoder``. Training decodes the full path (the codec
loss) and trains the DSL on the side (light path distils the full one, the switch predicts their gap);
evaluation decodes each of the full, light and mixed (routed) embeddings.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import Enum

import torch
from torch import nn
from torch.nn import functional as F

from dslnas.spaces.candidate import CandidateConfig
from dslnas.trainers.decoder import Decoder
from dslnas.trainers.encoder import DSLEncoder, EncoderOutput
from dslnas.trainers.quantizer import ResidualQuantizer

SWITCH_PREFIX = "encoder.switch."
DECODER_PREFIX = "decoder."
DSL_PREFIXES = ("encoder.mask.", SWITCH_PREFIX, "encoder.light_tail.")


class EncoderPath(str, Enum):
    FULL = "full"
    LIGHT = "light"
    MIXED = "mixed"


@dataclass(frozen=True)
class CodecOutput:
    """``audio: [B, 1, T]`` reconstruction of the full path, with the encoder pass and quantizer loss."""

    audio: torch.Tensor
    encoded: EncoderOutput
    commitment: torch.Tensor


class DSLCodec(nn.Module):
    def __init__(self, candidate: CandidateConfig) -> None:
        super().__init__()
        self.candidate = candidate
        self.encoder = DSLEncoder(candidate)
        self.quantizer = ResidualQuantizer(candidate.encoder.embedding_dim, candidate.quantizer)
        self.decoder = Decoder(candidate)

    def pad(self, audio: torch.Tensor) -> torch.Tensor:
        """Right-pad ``[B, 1, T]`` with zeros to a whole number of routing segments."""
        seg = self.candidate.segment_samples
        return F.pad(audio, (0, (-audio.shape[-1]) % seg))

    def forward(self, audio: torch.Tensor) -> CodecOutput:
        """Training pass: ``audio [B, 1, T]`` (T a multiple of the segment) through the full path."""
        encoded = self.encoder(audio)
        quantized = self.quantizer(encoded.full)
        return CodecOutput(self.decoder(quantized.quantized), encoded, quantized.commitment)

    @torch.no_grad()
    def reconstruct(self, audio: torch.Tensor, threshold: float | None = None) -> tuple[dict[EncoderPath, torch.Tensor], EncoderOutput]:
        """Evaluation pass: ``[B, 1, T]`` -> reconstruction per path (each ``[B, 1, T]``) and the encoder pass."""
        length = audio.shape[-1]
        encoded = self.encoder(self.pad(audio), threshold)
        embeddings = {EncoderPath.FULL: encoded.full, EncoderPath.LIGHT: encoded.light, EncoderPath.MIXED: encoded.mixed}
        out = {path: self.decoder(self.quantizer(emb).quantized)[..., :length] for path, emb in embeddings.items()}
        return out, encoded


def build_codec(candidate: CandidateConfig) -> DSLCodec:
    """A freshly initialised codec for ``candidate``."""
    return DSLCodec(candidate)


MASK_SCALE_KEY = "encoder.mask.scale"


def fold_mask_scale(state: dict[str, torch.Tensor], switch_depth: int) -> dict[str, torch.Tensor]:
    """``state`` with its trained mask's per-channel scale folded into the conv that feeds the cut (the last
    conv of encoder block ``switch_depth - 1``): that conv's output channels are scaled instead, so a fresh
    mask (scale 1) in front of the full tail gives the tail what the trained mask gave it. The soft threshold
    cannot be folded and is dropped (a fresh mask's is 0): a base trained with ``dsl.alpha: 0`` keeps its
    threshold at 0, so its fold is exact.

    Without the fold, dropping a trained mask (as exporting a base does) hands the full tail inputs up to
    1 / scale larger than it was trained on: the speech16k base lost 0.27 ViSQOL on speech that way.
    A state without a mask, or with ``switch_depth`` 0, is returned unchanged.
    """
    if MASK_SCALE_KEY not in state or switch_depth < 1:
        return dict(state)
    prefix = f"encoder.blocks.{switch_depth - 1}."
    convs = [int(k[len(prefix):].split(".")[0]) for k in state
             if k.startswith(prefix) and k.count(".") == prefix.count(".") + 1 and k.endswith(".weight")]
    if not convs:
        raise ValueError(f"no conv feeds the cut at switch depth {switch_depth} (no {prefix}<i>.weight)")
    last = f"{prefix}{max(convs)}."
    scale = state[MASK_SCALE_KEY].reshape(-1)
    folded = dict(state)
    folded[last + "weight"] = state[last + "weight"] * scale.reshape(-1, 1, 1)
    if last + "bias" in state:
        folded[last + "bias"] = state[last + "bias"] * scale
    folded[MASK_SCALE_KEY] = torch.ones_like(state[MASK_SCALE_KEY])
    return folded


THRESHOLD_KEY = "encoder.mask.threshold"


def warn_if_threshold_dropped(state: dict[str, torch.Tensor], source: str) -> None:
    """Warn (UserWarning naming ``source``) when ``state``'s trained mask has a threshold above 0: dropping the
    mask (export, or training on from the state) cannot fold it, so the full path changes."""
    threshold = state.get(THRESHOLD_KEY)
    if threshold is not None and threshold.max().item() > 0:
        warnings.warn(f"{source}: the trained mask's threshold (up to {threshold.max().item():.3g}) cannot be folded "
                      "and is dropped, so the full path differs from the trained one (train bases with "
                      "dsl.alpha: 0 to keep it at 0)", UserWarning, stacklevel=3)


def insert_dsl(candidate: CandidateConfig, trained_state: dict[str, torch.Tensor], with_decoder: bool = True) -> DSLCodec:
    """Build ``candidate`` and load a trained codec's encoder, quantizer and decoder into it (with
    ``with_decoder=False`` the trained decoder is ignored and the candidate's starts fresh, for decoder-only
    training of a new decoder).

    The DSL parts (mask, switch, light tail) start fresh, so a codec trained once can be fitted with many
    DSL variants and fine-tuned (the paper's use). Raises ValueError when the trained weights do not fit
    the candidate's base architecture.
    """
    codec = build_codec(candidate)
    fresh = DSL_PREFIXES if with_decoder else (*DSL_PREFIXES, DECODER_PREFIX)
    shared = {k: v for k, v in trained_state.items() if not k.startswith(fresh)}
    try:
        missing, unexpected = codec.load_state_dict(shared, strict=False)
    except RuntimeError as err:  # shape mismatch: a different base architecture
        detail = next((ln.strip() for ln in str(err).splitlines() if "size mismatch" in ln), str(err))
        raise ValueError(f"trained codec does not fit candidate {candidate.name!r}: {detail}") from err
    missing = [k for k in missing if not k.startswith(fresh)]
    if missing or unexpected:
        raise ValueError(f"trained codec does not fit candidate {candidate.name!r}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return codec
