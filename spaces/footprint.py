"""How big a candidate's model is before any of it is built: absurd sizes are one error line, not an allocation.

A config with a million channels per block asks torch for hundreds of GB of weights; building it ends in
an allocator traceback (or the OOM killer). :func:`check_buildable` counts the weights the codec would hold
from the config alone (pure arithmetic, no torch) and refuses a candidate beyond :data:`MAX_MODEL_WEIGHTS`,
or whose one-segment activations pass :data:`MAX_SEGMENT_ACTIVATIONS`, naming the keys to look at.
"""

from __future__ import annotations

from dslnas.spaces.candidate import CandidateConfig, EncoderArch
from dslnas.spaces.errors import ConfigError

MAX_MODEL_WEIGHTS = 100_000_000
"""Weights (encoder, decoder, codebooks) a buildable candidate may hold: 400 MB of float32. The shipped
presets hold under 1 M; an always-on codec for a small core holds far fewer."""
MAX_SEGMENT_ACTIVATIONS = 100_000_000
"""Values one layer's output may hold for one segment (the widest layer x the segment's samples)."""


def encoder_weights(arch: EncoderArch) -> int:
    """Conv weights (no biases) of the encoder's stem, blocks and head (its full path)."""
    widths = (arch.stem_channels, *arch.block_channels)
    total = arch.stem_channels * arch.stem_kernel + widths[-1] * arch.embedding_dim * arch.final_kernel
    for i, stride in enumerate(arch.block_strides):
        residual = len(arch.residual_dilations) * widths[i] * widths[i] * (arch.residual_kernel + 1)
        total += residual + widths[i] * widths[i + 1] * 2 * stride
    return total


def model_weights(candidate: CandidateConfig) -> int:
    """About the weights of the encoder's full path, the decoder (a mirror, its widths scaled) and the codebooks
    (within 20% of the built demo and paper codecs: a size check, not a count)."""
    arch = candidate.encoder
    scale = candidate.decoder_channel_mult
    decoder = int(encoder_weights(arch) * max(scale, 1.0) ** 2)
    codebooks = candidate.quantizer.num_quantizers * candidate.quantizer.codebook_size * arch.embedding_dim
    return encoder_weights(arch) + decoder + codebooks


def check_buildable(candidate: CandidateConfig, source: str) -> None:
    """Raise ConfigError naming ``source`` when ``candidate`` is too big to build (see module docstring)."""
    weights = model_weights(candidate)
    if weights > MAX_MODEL_WEIGHTS:
        raise ConfigError(f"{source}: candidate '{candidate.name}' would hold about {weights:,} weights "
                          f"({weights * 4 / 1e9:.1f} GB as float32), over the limit of {MAX_MODEL_WEIGHTS:,}; "
                          "check encoder.block_channels, stem_channels, embedding_dim, quantizer.codebook_size "
                          "and decoder_channel_mult")
    arch = candidate.encoder
    widest = max(arch.stem_channels, *arch.block_channels, arch.embedding_dim)
    activations = widest * candidate.segment_samples
    if activations > MAX_SEGMENT_ACTIVATIONS:
        raise ConfigError(f"{source}: candidate '{candidate.name}' would hold {activations:,} values in one layer "
                          f"for one segment ({widest} channels x {candidate.segment_samples} samples), over the "
                          f"limit of {MAX_SEGMENT_ACTIVATIONS:,}; check dsl.segment_frames and the channel counts")
