"""``dslnas stream`` (a file encoded segment by segment as deployed) and ``export --format c|onnx`` from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch, QuantizerConfig
from dslnas.spaces.run_config import RunConfig
from dslnas.trainers.checkpoint import Checkpoint, save_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data.audio_io import load_audio, save_audio

CANDIDATE = CandidateConfig(
    name="tiny", encoder=EncoderArch(stem_channels=4, block_channels=(8, 8, 16), block_strides=(2, 4, 5), embedding_dim=8),
    dsl=DSLConfig(switch_depth=2, light_widths=(4, 4), segment_frames=4), quantizer=QuantizerConfig(num_quantizers=2, codebook_size=16),
)


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    torch.manual_seed(0)
    codec = build_codec(CANDIDATE)
    ckpt = tmp_path / "checkpoint.pt"
    save_checkpoint(Checkpoint(run=RunConfig(candidate=CANDIDATE), model=codec.state_dict(), step=1), ckpt)
    audio = tmp_path / "in.wav"
    t = torch.arange(16000) / 16000
    save_audio(audio, 0.3 * torch.sin(2 * torch.pi * 220 * t) * (t > 0.5), 16000)  # silence, then a tone
    return ckpt, audio


def _stream(ckpt: Path, audio: Path, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(cli, ["stream", "--checkpoint", str(ckpt), "--audio", str(audio), "--out", str(out), "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_forced_full_matches_the_offline_path_and_writes_audio(files: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, audio = files
    out = tmp_path / "out.wav"
    payload = _stream(ckpt, audio, out, "--route", "full")
    assert set(payload["routes"]) == {"full"} and payload["light_usage"] == 0.0 and payload["transitions"] == 0
    assert payload["max_abs_diff_to_offline"] < 1e-5
    assert load_audio(out, 16000).shape[-1] == 16000


def test_automatic_routes_follow_the_switch_at_the_threshold(files: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, audio = files
    forced = _stream(ckpt, audio, tmp_path / "l.wav", "--route", "light")
    assert forced["light_usage"] == 1.0
    predicted = forced["predicted"]
    tau = sorted(predicted)[len(predicted) // 2]
    auto = _stream(ckpt, audio, tmp_path / "a.wav", "--threshold", str(tau), "--plot", str(tmp_path / "routes.png"))
    assert auto["routes"] == ["light" if p < tau else "full" for p in predicted]
    backs = sum(a == "light" and b == "full" for a, b in zip(auto["routes"], auto["routes"][1:]))
    assert auto["transitions"] == backs and 0 < auto["light_usage"] < 1
    png = Path(auto["plot"])  # the routing timeline of what was streamed
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000


def test_stream_plot_into_a_folder_is_one_error_line(files: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, audio = files
    result = CliRunner().invoke(cli, ["stream", "--checkpoint", str(ckpt), "--audio", str(audio), "--out",
                                      str(tmp_path / "o.wav"), "--plot", str(tmp_path)])
    assert result.exit_code != 0 and "--plot" in result.stderr and "is a folder" in result.stderr
    assert not (tmp_path / "o.wav").exists()


def test_export_c_writes_the_routed_encoder_of_a_checkpoint(files: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, _ = files
    out = tmp_path / "c"
    result = CliRunner().invoke(cli, ["export", "--checkpoint", str(ckpt), "--format", "c", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    header = (out / "dsl_model.h").read_text()
    assert (out / "dsl_model.c").exists() and f"#define DSL_STATE_BYTES {info['state_bytes']}" in header.replace("u", "")
    assert info["state_policy"] == "warm" and info["ram_bytes"] == info["state_bytes"] + info["scratch_bytes"]
    assert Path(info["makefile"]) == out / "Makefile" and Path(info["example_source"]).is_file()
    said = CliRunner().invoke(cli, ["export", "--checkpoint", str(ckpt), "--format", "c", "--out", str(out)])
    assert said.exit_code == 0 and "Makefile" in said.output and "dsl_stream.c" in said.output, said.output
    both = CliRunner().invoke(cli, ["export", "--checkpoint", str(ckpt), "--study", "x", "--trial", "0", "--format", "c", "--out", str(out)])
    assert both.exit_code == 2 and "error: --format c exports --checkpoint CK" in both.stderr


def test_export_onnx_writes_the_routed_encoder_and_its_driver_matches_the_runtime(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    from dslnas.hw_models.routed_onnx import RoutedOnnxEncoder
    from dslnas.trainers.data.audio_io import load_audio as load
    from dslnas.trainers.streaming import Route, StreamingEncoder

    ckpt, audio = files
    out = tmp_path / "onnx"
    forced = _stream(ckpt, audio, tmp_path / "l.wav", "--route", "light")
    ranked = sorted(set(forced["predicted"]))
    gap, low = max((b - a, a) for a, b in zip(ranked, ranked[1:]))
    tau = low + gap / 2  # the middle of the widest gap: routes both ways, as far from any prediction as can be
    result = CliRunner().invoke(cli, ["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(out),
                                      "--threshold", str(tau), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["max_abs_diff"] <= 1e-4 and info["threshold"] == tau and info["state_policy"] == "warm"
    assert {p.name for p in out.iterdir()} == {"front.onnx", "full_tail.onnx", "light_tail.onnx", "routed.json"}
    driver = RoutedOnnxEncoder(out)
    codec = build_codec(CANDIDATE)
    codec.load_state_dict(torch.load(ckpt, weights_only=True)["model"])
    pcm = load(audio, 16000)
    expected = StreamingEncoder(codec.encoder.eval()).encode(codec.pad(pcm.view(1, 1, -1)), Route.AUTO, tau)
    seg = CANDIDATE.segment_samples
    padded = codec.pad(pcm.view(1, 1, -1)).view(-1, seg).numpy()
    got = [driver.process_segment(chunk) for chunk in padded]
    assert [light for _, light, _ in got] == expected.use_light.tolist() and 0 < expected.light_usage < 1
    embedding = torch.from_numpy(__import__("numpy").concatenate([e for e, _, _ in got], axis=-1))
    assert (embedding - expected.embedding).abs().max() <= 1e-4
    assert driver.replayed_frames == expected.warmup_frames  # warm resumes replay what the runtime replays


def test_routed_onnx_check_catches_a_driver_that_resumes_wrongly(tmp_path: Path) -> None:
    """The export's own check fails when the driver's state policy is not the runtime's."""
    from dslnas.hw_models.routed_onnx import MANIFEST, RoutedOnnxEncoder, _check, export_routed_onnx
    from dslnas.hw_models.runners.artifact import ExportError
    from dslnas.trainers.streaming import StreamingEncoder

    torch.manual_seed(0)
    encoder = build_codec(CANDIDATE).encoder.eval()
    info = export_routed_onnx(encoder, tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    (tmp_path / MANIFEST).write_text(json.dumps({**manifest, "state_policy": "reset"}))
    with pytest.raises(ExportError, match="differs from the streaming runtime"):
        _check(StreamingEncoder(encoder), RoutedOnnxEncoder(tmp_path), info.threshold, 24)
    (tmp_path / MANIFEST).write_text("{")
    with pytest.raises(ExportError, match="not a routed ONNX export"):
        RoutedOnnxEncoder(tmp_path)
