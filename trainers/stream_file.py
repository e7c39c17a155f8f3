"""Encode and decode one audio file segment by segment, as a deployment would: ``dslnas stream``.

The encoder runs on the streaming runtime (one tail per segment, the candidate's state policy); the
quantizer and decoder (not on the device) decode the embedding in chunks of :data:`DECODE_CHUNK_FRAMES`
frames, each with the decoder's receptive field of earlier frames before it (:func:`decoder_context_frames`),
so the output equals one whole-file decode and its memory does not grow with the file. The input is read
in blocks from the file (no whole-file float copy of its channels), the output written block by block to a
temporary name renamed when complete. Files longer than :data:`MAX_STREAM_SECONDS` are refused before
anything runs. What still grows with the length: the audio, the base frames and the embedding
(``bench/long_audio_memory.py``; the decoder alone took about 5 MB per second of audio when it ran whole).
With ``route=full`` the result also says how far the streamed embedding is from the offline full path over
the first :data:`OFFLINE_CHECK_SECONDS` (it should be ~1e-6: the runtime is exact).
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch

from dslnas.spaces.candidate import CandidateConfig, StatePolicy
from dslnas.spaces.errors import DataError
from dslnas.trainers.codec import DSLCodec
from dslnas.trainers.data.audio_io import AudioSpan, open_span
from dslnas.trainers.streaming import Route, StreamingEncoder, Tail

MAX_STREAM_SECONDS = 4 * 3600.0
"""Longest input ``stream`` takes (a documented bound; memory past a decode chunk was not measured)."""
DECODE_CHUNK_FRAMES = 512
"""Embedding frames per decoder call (about 10 s of audio); each call also decodes the receptive field
before it again (:func:`decoder_context_frames`: 62 frames for the demo preset, 32 for the paper's)."""
READ_BLOCK_SAMPLES = 1 << 20
"""Samples per read of the input file."""
FULL_DISK_BYTES = 1 << 20
"""A failed output write with less room than this left on its disk is reported as a full disk."""
OFFLINE_CHECK_SECONDS = 60.0
"""``route=full``: audio over which the streamed embedding is compared with the offline full path."""


@dataclass(frozen=True)
class StreamedFile:
    """What streaming one file did. ``routes``: per segment, the tail that ran it."""

    input_path: str
    output_path: str
    seconds: float
    segments: int
    segment_ms: float
    threshold: float
    route: str
    state_policy: str
    routes: tuple[Tail, ...]
    predicted: tuple[float, ...]
    light_usage: float
    transitions: int               # light -> full switch-backs
    transitions_per_s: float
    mask_sparsity: float
    max_abs_diff_to_offline: float | None   # route=full: streamed vs offline full embedding (first 60 s)


def open_stream_input(audio_in: Path, sample_rate_hz: int) -> AudioSpan:
    """The input file as a span (its header read), refused with one line when longer than the limit."""
    span = open_span(audio_in, sample_rate_hz)
    seconds = span.file_frames / span.file_rate_hz
    if seconds > MAX_STREAM_SECONDS:
        raise DataError(f"{audio_in}: {seconds / 3600:.2f} h of audio; stream takes at most "
                        f"{MAX_STREAM_SECONDS / 3600:g} h (split the file)")
    return span


def read_span(span: AudioSpan) -> torch.Tensor:
    """The whole span as ``[T]`` float32, read in blocks of :data:`READ_BLOCK_SAMPLES`."""
    audio = torch.empty(span.num_samples)
    block = READ_BLOCK_SAMPLES
    for start in range(0, span.num_samples, block):
        length = min(block, span.num_samples - start)
        audio[start:start + length] = span.read(start, length)
    return audio


def decoder_context_frames(candidate: CandidateConfig) -> int:
    """Embedding frames before a chunk that its first output sample can depend on (an upper bound).

    The projection and output convs reach 6 taps back, each upsampler 2 input frames, each residual unit
    ``(kernel - 1) * dilation`` samples at its rate (counted as whole embedding frames)."""
    arch = candidate.encoder
    per_block = 2 + sum((arch.residual_kernel - 1) * d for d in arch.residual_dilations)
    return 6 + 1 + arch.n_blocks * per_block + 1


@torch.no_grad()
def decode_chunks(codec: DSLCodec, embedding: torch.Tensor, chunk_frames: int | None = None):  # noqa: ANN201
    """Yield the decoded audio of ``embedding [1, D, F]`` chunk by chunk (each ``[chunk * hop]``, in order;
    ``chunk_frames`` default: :data:`DECODE_CHUNK_FRAMES`)."""
    chunk_frames = chunk_frames or DECODE_CHUNK_FRAMES
    context = decoder_context_frames(codec.candidate)
    hop = codec.candidate.encoder.hop_samples
    for start in range(0, embedding.shape[-1], chunk_frames):
        first = max(0, start - context)
        part = embedding[..., first:start + chunk_frames]
        audio = codec.decoder(codec.quantizer(part).quantized)[0, 0]
        yield audio[(start - first) * hop:]


def write_chunks(audio_out: Path, chunks, length: int, rate: int) -> None:  # noqa: ANN001
    """Write the first ``length`` samples of ``chunks`` as 16-bit WAV, via a temporary name renamed at the end."""
    audio_out.parent.mkdir(parents=True, exist_ok=True)
    partial = audio_out.with_name(f".{audio_out.name}.partial")
    written = 0
    try:
        with soundfile.SoundFile(str(partial), "w", rate, 1, subtype="PCM_16", format="WAV") as f:
            for chunk in chunks:
                block = chunk[: length - written].numpy()
                if not np.isfinite(block).all():
                    raise DataError(f"{audio_out}: refusing to write non-finite samples (NaN or inf)")
                f.write(np.clip(block, -1.0, 1.0))
                written += block.shape[0]
        os.replace(partial, audio_out)
    except RuntimeError as err:  # libsndfile's failed write says no reason (error 2, "system"): name the likely one
        free_bytes = shutil.disk_usage(audio_out.parent).free
        why = "disk full" if free_bytes < FULL_DISK_BYTES else (getattr(err, "error_string", "") or "write failed")
        raise DataError(f"{audio_out}: cannot write the decoded audio ({why}, {free_bytes} bytes free)") from err
    finally:
        partial.unlink(missing_ok=True)


@torch.no_grad()
def stream_file(codec: DSLCodec, audio_in: Path, audio_out: Path, threshold: float | None = None,
                route: Route = Route.AUTO, state_policy: StatePolicy | None = None) -> StreamedFile:
    """Stream ``audio_in`` through ``codec`` and write the decoded audio to ``audio_out`` (same rate)."""
    candidate = codec.candidate
    rate = candidate.encoder.sample_rate_hz
    codec.eval()
    audio = read_span(open_stream_input(audio_in, rate))                       # [T]
    length = audio.shape[-1]
    padded = codec.pad(audio.reshape(1, 1, -1))
    del audio
    result = StreamingEncoder(codec.encoder).encode(padded, route, threshold, state_policy)
    write_chunks(audio_out, decode_chunks(codec, result.embedding), length, rate)
    diff = _offline_diff(codec, padded, result.embedding) if Route(route) is Route.FULL else None
    seconds = padded.shape[-1] / rate
    use_light = [bool(v) for v in result.use_light]
    return StreamedFile(
        str(audio_in), str(audio_out), seconds, len(use_light), 1000.0 * candidate.segment_samples / rate,
        result.threshold, Route(route).value, result.state_policy.value,
        tuple(Tail.LIGHT if u else Tail.FULL for u in use_light), tuple(float(p) for p in result.predicted),
        result.light_usage, result.switch_backs, result.switch_backs / seconds, result.mask_sparsity, diff,
    )


def _offline_diff(codec: DSLCodec, padded: torch.Tensor, embedding: torch.Tensor) -> float:
    """Max |streamed - offline full| embedding over the first :data:`OFFLINE_CHECK_SECONDS` (whole segments)."""
    candidate = codec.candidate
    segments = max(1, math.floor(OFFLINE_CHECK_SECONDS * candidate.encoder.sample_rate_hz / candidate.segment_samples))
    prefix = padded[..., : segments * candidate.segment_samples]
    offline = codec.encoder.full_tail(codec.encoder.mask(codec.encoder.base(prefix)))
    return float((offline - embedding[..., : offline.shape[-1]]).abs().max())
