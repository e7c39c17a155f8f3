"""What a board team gets from ``export --format c`` builds with its Makefile and streams a WAV as Python does.

A demo-preset codec (random weights, fixed seed) is saved as a checkpoint and exported through the CLI's
code path (``search.export_routed.export_checkpoint_c``) with a device profile; the generated Makefile is run
as is (``make``), and the example program ``dsl_stream`` streams a 16-bit PCM mono WAV (tone bursts over
low noise, so the switch's predictions form two groups and the route changes back and forth). Its routes,
predictions and embedding are compared with the Python streaming runtime on the same file
(``load_audio`` -> ``codec.pad`` -> ``StreamingEncoder.encode``, what ``dslnas stream`` runs).

* Cross: the A32 profile's Makefile (``arm-linux-gnueabihf-gcc -mcpu=cortex-a32 ...``, linked against the
  armhf C library, Debian ``libc6-dev-armhf-cross``), run under ``qemu-arm -L /usr/arm-linux-gnueabihf``.
  Skipped only when that toolchain is absent; ``.ci/system-deps.sh`` installs it.
* Host: the Makefile of a profile unit without a ``c_target`` (``cc``), run natively.

Tolerance: routes must be equal (the threshold sits in the widest gap of the predictions, thousands of
times the measured prediction error from the gap). Embeddings within ``EMBED_RTOL`` of the embedding's
largest magnitude: the C sums each conv in float32 in a fixed order (``-std=c99``: no FMA contraction, no
fast-math) with its own expf/logf (2e-7 relative error), torch sums in another order, so each of the ~10
stacked layers adds rounding of order sqrt(c_in * k) * 6e-8 ~ 1e-6 relative; 1e-4 is the host parity
tests' tolerance, and the measured difference is about 1e-6 of the largest magnitude.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler
from dslnas.hw_models.profile import DeviceProfile, load_profile
from dslnas.search.export_routed import export_checkpoint_c
from dslnas.spaces.presets import demo_candidate
from dslnas.spaces.run_config import RunConfig
from dslnas.trainers.checkpoint import Checkpoint, save_checkpoint
from dslnas.trainers.codec import DSLCodec, build_codec
from dslnas.trainers.data.audio_io import load_audio
from dslnas.trainers.streaming import StreamingEncoder

ARMHF_SYSROOT = Path("/usr/arm-linux-gnueabihf")
EMBED_RTOL = 1e-4
CLIP_SECONDS = 1.6
RUN_TIMEOUT_S = 300


def cross_toolchain_missing() -> str | None:
    """What the A32 build and run lack here (compiler, armhf C library, qemu-arm), or None."""
    missing = [m for m in (missing_compiler(ARM_CC),) if m]
    if not (ARMHF_SYSROOT / "lib" / "crt1.o").exists():
        missing.append(f"the armhf C library ({ARMHF_SYSROOT}/lib/crt1.o; Debian package libc6-dev-armhf-cross)")
    if shutil.which("qemu-arm") is None:
        missing.append("qemu-arm (Debian package qemu-user)")
    return "; ".join(missing) or None


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, DSLCodec]:
    """A saved demo codec and a clip: 16-bit PCM mono at the model's rate, tone bursts over low noise."""
    folder = tmp_path_factory.mktemp("c_build")
    torch.manual_seed(0)
    candidate = demo_candidate()
    codec = build_codec(candidate).eval()
    ckpt = folder / "checkpoint.pt"
    save_checkpoint(Checkpoint(run=RunConfig(candidate=candidate), model=codec.state_dict(), step=1), ckpt)
    rate = candidate.encoder.sample_rate_hz
    t = np.arange(int(CLIP_SECONDS * rate)) / rate   # not a whole number of segments: the last one is padded
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0)
    clip = folder / "clip.wav"
    soundfile.write(clip, tone + 0.02 * np.random.default_rng(1).standard_normal(t.size), rate, subtype="PCM_16")
    return ckpt, clip, codec


def python_stream(codec: DSLCodec, clip: Path, threshold: float | None = None):
    audio = load_audio(clip, codec.candidate.encoder.sample_rate_hz)
    return StreamingEncoder(codec.encoder).encode(codec.pad(audio.reshape(1, 1, -1)), threshold=threshold)


def widest_gap_threshold(predicted: np.ndarray) -> tuple[float, float]:
    """The midpoint of the widest gap between sorted predictions (both routes taken) and half that gap."""
    values = np.sort(predicted)
    gaps = np.diff(values)
    i = int(np.argmax(gaps))
    return float((values[i] + values[i + 1]) / 2), float(gaps[i] / 2)


def build_and_stream(out: Path, clip: Path, runner: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``make`` in ``out``, then ``dsl_stream`` on ``clip``: routes, predictions ``[S]``, embedding ``[S, D*F]``."""
    made = subprocess.run(["make", "-C", str(out)], capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "warning" not in made.stderr
    done = subprocess.run([*runner, str(out / "dsl_stream"), str(clip), str(out / "emb.f32")], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in done.stdout.splitlines()]
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    embedding = np.fromfile(out / "emb.f32", dtype="<f4").reshape(len(rows), -1)
    return [r[1] for r in rows], np.array([float(r[2]) for r in rows]), embedding


def check_against_python(codec: DSLCodec, clip: Path, out: Path, runner: list[str], tau: float, margin: float) -> None:
    reference = python_stream(codec, clip, tau)
    routes, predicted, embedding = build_and_stream(out, clip, runner)
    expected = ["light" if u else "full" for u in reference.use_light.tolist()]
    assert routes == expected and "light" in routes and "full" in routes
    assert np.abs(predicted - reference.predicted.numpy()).max() < margin / 100
    emb = reference.embedding[0].numpy()                      # [D, S * F] -> [S, D * F], segment-major like C
    per_segment = emb.reshape(emb.shape[0], len(routes), -1).transpose(1, 0, 2).reshape(len(routes), -1)
    scale = float(np.abs(per_segment).max())
    assert np.abs(embedding - per_segment).max() <= EMBED_RTOL * scale


def _profile_without_target() -> DeviceProfile:
    profile = load_profile("a32-emulated")
    unit = profile.unit().model_copy(update={"c_target": None})
    return profile.model_copy(update={"name": "host-only", "units": {profile.default_unit: unit}})


@pytest.mark.skipif(cross_toolchain_missing() is not None, reason=f"the A32 build needs {cross_toolchain_missing()}")
def test_the_a32_build_under_qemu_streams_the_clip_as_python_does(setup, tmp_path):
    ckpt, clip, codec = setup
    tau, margin = widest_gap_threshold(python_stream(codec, clip).predicted.numpy())
    profile = load_profile("a32-emulated")
    export_checkpoint_c(ckpt, tmp_path, tau, profile)
    makefile = (tmp_path / "Makefile").read_text()
    target = profile.unit().c_target
    assert target is not None and f"CC = {target.compiler}\n" in makefile
    assert f"TARGET_FLAGS = {' '.join(target.cpu_flags)}\n" in makefile and "-mcpu=cortex-a32" in target.cpu_flags
    check_against_python(codec, clip, tmp_path, ["qemu-arm", "-L", str(ARMHF_SYSROOT)], tau, margin)
    kind = subprocess.run(["file", str(tmp_path / "dsl_stream")], capture_output=True, text=True).stdout
    assert "ARM" in kind or not kind  # `file` may be absent; the qemu-arm run already proved the machine


def test_a_profile_without_a_target_gets_a_host_build_that_streams_the_clip(setup, tmp_path):
    ckpt, clip, codec = setup
    tau, margin = widest_gap_threshold(python_stream(codec, clip).predicted.numpy())
    export_checkpoint_c(ckpt, tmp_path, tau, _profile_without_target())
    makefile = (tmp_path / "Makefile").read_text()
    assert "CC = cc\n" in makefile and "TARGET_FLAGS =\n" in makefile and "no c_target, so a host build" in makefile
    check_against_python(codec, clip, tmp_path, [], tau, margin)


def test_the_example_refuses_audio_it_cannot_stream(setup, tmp_path):
    ckpt, clip, _ = setup
    export_checkpoint_c(ckpt, tmp_path, None, _profile_without_target())
    subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, check=True, timeout=RUN_TIMEOUT_S)
    rate = demo_candidate().encoder.sample_rate_hz
    cases = {"stereo.wav": (np.zeros((800, 2)), rate, "PCM_16", "not mono"),
             "rate.wav": (np.zeros(800), rate // 2, "PCM_16", f"the model runs at {rate} Hz"),
             "float.wav": (np.zeros(800), rate, "FLOAT", "not PCM"),
             "bits.wav": (np.zeros(800), rate, "PCM_24", "not 16-bit")}
    for name, (data, file_rate, subtype, message) in cases.items():
        soundfile.write(tmp_path / name, data, file_rate, subtype=subtype)
        done = subprocess.run([str(tmp_path / "dsl_stream"), str(tmp_path / name), str(tmp_path / "e.f32")],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        assert done.returncode == 2 and message in done.stderr, (name, done.stderr)
    usage = subprocess.run([str(tmp_path / "dsl_stream"), "-f", "sideways", str(clip), "e.f32"], capture_output=True,
                           text=True, timeout=RUN_TIMEOUT_S)
    assert usage.returncode == 2 and "usage:" in usage.stderr
