"""Inputs too big to handle whole: absurd model sizes are one error line before any allocation; long audio is
streamed and decoded in chunks (memory bounded by the chunk, not the file) or refused with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.spaces.candidate import CandidateConfig, DecoderUpsample
from dslnas.spaces.errors import ConfigError, DataError
from dslnas.spaces.footprint import MAX_MODEL_WEIGHTS, check_buildable, model_weights
from dslnas.spaces.presets import CANDIDATE_PRESETS, candidate_preset
from dslnas.trainers import stream_file as stream_module
from dslnas.trainers.codec import build_codec
from dslnas.trainers.streaming import Route

TINY = candidate_preset("demo").model_copy(update={"name": "tiny"})


def one_error_line(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize("key", ["block_channels: [100000, 100000, 100000, 100000]", "stem_channels: 1000000000",
                                 "embedding_dim: 2000000000"])
@pytest.mark.parametrize("command", ["describe", "cost", "train"])
def test_absurd_channel_counts_are_one_error_line_before_any_allocation(tmp_path: Path, key: str, command: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(*_: object, **__: object) -> None:
        raise AssertionError("a model was built")

    monkeypatch.setattr(torch.nn.Conv1d, "__init__", no_build)
    body = f"name: absurd\nencoder:\n  {key}\n"
    if command == "train":
        config = tmp_path / "run.yaml"
        config.write_text("candidate:\n" + "".join(f"  {line}\n" for line in body.splitlines()))
        args = ["train", "--config", str(config), "--out", str(tmp_path / "out")]
    else:
        config = tmp_path / "candidate.yaml"
        config.write_text(body)
        args = [command, "--config", str(config)]
    line = one_error_line(args)
    assert "absurd" in line and str(config) in line and ("weights" in line or "values in one layer" in line)


def test_a_segment_of_absurd_length_is_one_error_line(tmp_path: Path) -> None:
    config = tmp_path / "candidate.yaml"
    config.write_text("name: long\ndsl:\n  segment_frames: 100000000\n")
    assert "dsl.segment_frames" in one_error_line(["describe", "--config", str(config)])


@pytest.mark.parametrize("name", sorted(CANDIDATE_PRESETS))
def test_every_preset_is_buildable_and_its_size_estimate_is_close(name: str) -> None:
    candidate = candidate_preset(name)
    check_buildable(candidate, name)
    built = sum(p.numel() for p in build_codec(candidate).parameters())
    assert 0.7 * built < model_weights(candidate) < 1.3 * built


def test_the_size_limit_names_the_keys() -> None:
    wide = TINY.model_copy(update={"quantizer": TINY.quantizer.model_copy(update={"codebook_size": MAX_MODEL_WEIGHTS})})
    with pytest.raises(ConfigError, match="codebook_size"):
        check_buildable(wide, "x.yaml")


@pytest.mark.parametrize("upsample", list(DecoderUpsample))
def test_the_chunked_decode_equals_one_whole_decode(upsample: DecoderUpsample) -> None:
    candidate = TINY.model_copy(update={"decoder_upsample": upsample})
    codec = build_codec(candidate).eval()
    torch.manual_seed(0)
    embedding = torch.randn(1, candidate.encoder.embedding_dim, 40)
    with torch.no_grad():
        whole = codec.decoder(codec.quantizer(embedding).quantized)[0, 0]
    chunked = torch.cat(list(stream_module.decode_chunks(codec, embedding, chunk_frames=3)))
    assert chunked.shape == whole.shape and torch.allclose(chunked, whole, atol=1e-5)


def noise_wav(path: Path, seconds: float, rate_hz: int, channels: int = 1) -> Path:
    samples = 0.1 * np.random.default_rng(0).standard_normal((int(seconds * rate_hz), channels)).astype(np.float32)
    soundfile.write(str(path), samples, rate_hz, subtype="PCM_16")
    return path


def test_a_long_file_is_decoded_in_chunks_and_read_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    codec = build_codec(TINY).eval()
    rate = TINY.encoder.sample_rate_hz
    audio = noise_wav(tmp_path / "in.wav", 6.0, 44_100, channels=2)  # resampled, channels averaged
    frames_per_call: list[int] = []
    real_forward = type(codec.decoder).forward
    monkeypatch.setattr(type(codec.decoder), "forward", lambda self, e: (frames_per_call.append(e.shape[-1]), real_forward(self, e))[1])
    monkeypatch.setattr(stream_module, "DECODE_CHUNK_FRAMES", 16)
    monkeypatch.setattr(stream_module, "READ_BLOCK_SAMPLES", 10_000)
    reads: list[int] = []
    real_read = stream_module.AudioSpan.read
    monkeypatch.setattr(stream_module.AudioSpan, "read", lambda self, s, n: (reads.append(n), real_read(self, s, n))[1])
    result = stream_module.stream_file(codec, audio, tmp_path / "out.wav", route=Route.FULL)
    context = stream_module.decoder_context_frames(TINY)
    frames = round(result.seconds * rate / TINY.encoder.hop_samples)
    assert len(frames_per_call) == -(-frames // 16) and max(frames_per_call) <= 16 + context
    assert max(reads) <= 10_000 and sum(reads) == round(6.0 * rate)
    written, written_rate = soundfile.read(str(tmp_path / "out.wav"))
    assert written_rate == rate and written.shape == (round(6.0 * rate),) and np.abs(written).max() > 0
    assert result.max_abs_diff_to_offline is not None and result.max_abs_diff_to_offline < 1e-4
    assert not list(tmp_path.glob(".*partial"))


def test_a_file_longer_than_the_limit_is_one_error_line_before_any_encode(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    audio = noise_wav(tmp_path / "long.wav", 3.0, 16_000)
    monkeypatch.setattr(stream_module, "MAX_STREAM_SECONDS", 2.0)
    monkeypatch.setattr(stream_module, "StreamingEncoder", None)  # an encode would fail on it
    with pytest.raises(DataError, match=r"long.wav: 0.00 h of audio; stream takes at most"):
        stream_module.stream_file(build_codec(TINY), audio, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_visqol_refuses_a_file_over_its_limit_from_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.trainers import visqol_score

    short, long = noise_wav(tmp_path / "short.wav", 1.0, 16_000), noise_wav(tmp_path / "long.wav", 3.0, 16_000)
    monkeypatch.setattr(visqol_score, "MAX_FILE_SECONDS", 2.0)
    monkeypatch.setattr(visqol_score, "load_audio", None)  # a read of the audio would fail on it
    line = one_error_line(["visqol", str(short), str(long)])
    assert "long.wav: 3 s of audio; ViSQOL scores at most 2 s per file" in line


def test_an_output_write_on_a_full_disk_is_one_error_line_and_leaves_nothing(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    def refused(*_: object) -> None:
        raise soundfile.LibsndfileError(2)  # what libsndfile raises when the disk is full (measured on a tmpfs)

    monkeypatch.setattr(soundfile.SoundFile, "write", refused)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: namedtuple("Usage", "total used free")(100, 100, 0))
    with pytest.raises(DataError, match=r"out.wav: cannot write the decoded audio \(disk full, 0 bytes free\)"):
        stream_module.write_chunks(tmp_path / "out.wav", [torch.zeros(100)], 100, 16_000)
    assert list(tmp_path.iterdir()) == []
