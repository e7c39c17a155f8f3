"""Encode and decode one audio file segment by segment, as a deployment would: ``dslnas stream``.

The encoder runs on the streaming runtime (one tail per segment, the candidate's state policy); the
quantizer and decoder (not on the device) decode the whole embedding. With ``route=full`` the result also
says how far the streamed embedding is from the offline full path (it should be ~1e-6: the runtime is exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from dslnas.spaces.candidate import StatePolicy
from dslnas.trainers.codec import DSLCodec
from dslnas.trainers.data.audio_io import load_audio, save_audio
from dslnas.trainers.streaming import Route, StreamingEncoder


@dataclass(frozen=True)
class StreamedFile:
    """What streaming one file did. ``routes``: per segment, ``"light"`` or ``"full"``."""

    input_path: str
    output_path: str
    seconds: float
    segments: int
    segment_ms: float
    threshold: float
    route: str
    state_policy: str
    routes: tuple[str, ...]
    predicted: tuple[float, ...]
    light_usage: float
    transitions: int               # light -> full switch-backs
    transitions_per_s: float
    mask_sparsity: float
    max_abs_diff_to_offline: float | None   # route=full: streamed vs offline full embedding


@torch.no_grad()
def stream_file(codec: DSLCodec, audio_in: Path, audio_out: Path, threshold: float | None = None,
                route: Route = Route.AUTO, state_policy: StatePolicy | None = None) -> StreamedFile:
    """Stream ``audio_in`` through ``codec`` and write the decoded audio to ``audio_out`` (same rate)."""
    candidate = codec.candidate
    rate = candidate.encoder.sample_rate_hz
    codec.eval()
    audio = load_audio(audio_in, rate)                       # [T]
    length = audio.shape[-1]
    padded = codec.pad(audio.reshape(1, 1, -1))
    result = StreamingEncoder(codec.encoder).encode(padded, route, threshold, state_policy)
    decoded = codec.decoder(codec.quantizer(result.embedding).quantized)[0, 0, :length]
    save_audio(audio_out, decoded, rate)
    diff = None
    if Route(route) is Route.FULL:
        offline = codec.encoder.full_tail(codec.encoder.mask(codec.encoder.base(padded)))
        diff = float((offline - result.embedding).abs().max())
    seconds = padded.shape[-1] / rate
    use_light = [bool(v) for v in result.use_light]
    return StreamedFile(
        str(audio_in), str(audio_out), seconds, len(use_light), 1000.0 * candidate.segment_samples / rate,
        result.threshold, Route(route).value, result.state_policy.value,
        tuple("light" if u else "full" for u in use_light), tuple(float(p) for p in result.predicted),
        result.light_usage, result.switch_backs, result.switch_backs / seconds, result.mask_sparsity, diff,
    )
