"""Compilers and flags for the generated C, in one place: the host build (parity driver) and the ARM build.

* Host: ``gcc -std=c99 -O2 -Wall -Wextra -pedantic -Werror`` with ``host_driver.c`` (raw float32 in on
  stdin / a file, per segment ``int32 path, float32 predicted, float32 out[]`` on stdout).
* ARM: Debian's ``arm-linux-gnueabihf-gcc`` for a Cortex-A32 (ARMv8-A AArch32, NEON/FP-ARMv8, hard float, ARM
  state so every instruction is 4 bytes), bare metal (``-ffreestanding -nostdlib``, no libm or libgcc: the
  model carries its own expf/logf) with ``arm_baremetal.c`` and a linker script placing the image at 64 KiB.

Every command is an argument list run without a shell; a failure is a :class:`CExportError` with stderr.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from dslnas.hw_models.c_export.export import CExportInfo
from dslnas.hw_models.c_export.program import CExportError
from dslnas.hw_models.profile import CORTEX_A32_LINUX

HOST_CC = "gcc"
HOST_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror")
ARM_CC = CORTEX_A32_LINUX.compiler        # the target's facts live in hw_models.profile (profiles' c_target)
ARM_CPU_FLAGS = CORTEX_A32_LINUX.cpu_flags
ARM_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", *ARM_CPU_FLAGS)
ARM_BAREMETAL_FLAGS = ("-ffreestanding", "-nostdlib", "-static", "-fno-pic", "-fno-unwind-tables",
                       "-fno-asynchronous-unwind-tables", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments")
ARM_DEBIAN_PACKAGE = "gcc-arm-linux-gnueabihf"
COMPILE_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 300.0
_PACKAGE = "dslnas.hw_models.c_export"


def missing_compiler(compiler: str) -> str | None:
    """Why ``compiler`` cannot be used here, or None when it is on PATH."""
    if shutil.which(compiler):
        return None
    hint = f" (Debian package {ARM_DEBIAN_PACKAGE}; make test installs it: .ci/system-deps.sh)" if compiler == ARM_CC else ""
    return f"{compiler} not found on PATH{hint}"


def package_file(name: str) -> Path:
    """A C file shipped with this package (``host_driver.c``, ``arm_baremetal.c``, ``arm_baremetal.ld``)."""
    return Path(str(resources.files(_PACKAGE).joinpath(name)))


def build_host_driver(info: CExportInfo, out_path: str | Path | None = None) -> Path:
    """Compile the model with the host driver; returns the executable's path."""
    return _build_host(info, "host_driver.c", Path(out_path) if out_path else info.source_path.with_name("dsl_driver"))


def build_host_timer(info: CExportInfo, out_path: str | Path | None = None) -> Path:
    """Compile the model with the host timing driver (``host_timing.c``); returns the executable's path."""
    return _build_host(info, "host_timing.c", Path(out_path) if out_path else info.source_path.with_name("dsl_timer"))


def _build_host(info: CExportInfo, driver: str, exe: Path) -> Path:
    """Compile the model with the shipped C file ``driver`` for this host into ``exe``."""
    _compile([HOST_CC, *HOST_CFLAGS, "-I", str(info.header_path.parent), str(info.source_path),
              str(package_file(driver)), "-o", str(exe)])
    return exe


def run_host_timer(timer: Path, info: CExportInfo, segments: np.ndarray, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Stream ``segments`` ``[S, in_floats]`` through the timer ``repeats`` times with automatic routing.

    Returns the path per segment ``[S]`` (the same every pass: the model is deterministic) and the elapsed
    nanoseconds ``[repeats, S]``. CExportError when it fails or the passes disagree on a route.
    """
    data = np.ascontiguousarray(segments, dtype=np.float32).reshape(-1, info.in_floats)
    with tempfile.NamedTemporaryFile(suffix=".f32") as audio:
        audio.write(data.tobytes())
        audio.flush()
        done = subprocess.run([str(timer), str(repeats), audio.name], capture_output=True, timeout=RUN_TIMEOUT_S)
    if done.returncode != 0:
        raise CExportError(f"{timer.name} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    record = np.dtype([("path", "<i4"), ("ns", "<f8")])
    out = np.frombuffer(done.stdout, dtype=record).reshape(repeats, len(data))
    if not (out["path"] == out["path"][0]).all():
        raise CExportError(f"{timer.name}: passes over the same audio took different routes")
    return out["path"][0].copy(), out["ns"].copy()


def build_arm_image(info: CExportInfo, out_path: str | Path | None = None) -> Path:
    """Cross-compile the model with the bare-metal harness into a static ARM ELF; returns its path."""
    return build_baremetal_elf(info, ARM_CFLAGS, Path(out_path) if out_path else info.source_path.with_name("dsl_model_arm.elf"))


def build_baremetal_elf(info: CExportInfo, cflags: Sequence[str], elf: Path, harness: Sequence[str] = (),
                        defines: Sequence[str] = ()) -> Path:
    """The model, ``arm_baremetal.c`` and the ``harness`` files shipped here, cross-compiled with ``cflags`` bare
    metal at the linker script's address into ``elf``; CExportError without the cross compiler."""
    problem = missing_compiler(ARM_CC)
    if problem:
        raise CExportError(problem)
    _compile([ARM_CC, *cflags, *ARM_BAREMETAL_FLAGS, *defines, "-I", str(info.header_path.parent),
              "-T", str(package_file("arm_baremetal.ld")), str(info.source_path),
              str(package_file("arm_baremetal.c")), *(str(package_file(name)) for name in harness), "-o", str(elf)])
    return elf


@dataclass(frozen=True)
class SegmentOutputs:
    """Per segment: the path that ran ``[S]``, the predicted discrepancy ``[S]``, the output ``[S, C, F]``."""

    paths: np.ndarray
    predicted: np.ndarray
    outputs: np.ndarray


def run_host_driver(driver: Path, info: CExportInfo, segments: np.ndarray, force: int) -> SegmentOutputs:
    """Run ``segments`` (``[S, in_channels, in_frames]`` float32) through the driver with one ``force``."""
    data = np.ascontiguousarray(segments, dtype=np.float32).reshape(-1, info.in_floats)
    try:
        done = subprocess.run([str(driver), str(force)], input=data.tobytes(), capture_output=True,
                              timeout=RUN_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise CExportError(f"running {driver}: {err}") from err
    if done.returncode != 0:
        raise CExportError(f"{driver} exited with {done.returncode}: {done.stderr.decode(errors='replace')[-800:]}")
    record = np.dtype([("path", "<i4"), ("predicted", "<f4"), ("out", "<f4", (info.out_floats,))])
    rows = np.frombuffer(done.stdout, dtype=record)
    if len(rows) != len(data):
        raise CExportError(f"{driver} wrote {len(rows)} segments for {len(data)} in")
    outputs = rows["out"].reshape(len(rows), info.out_channels, info.out_frames)
    return SegmentOutputs(rows["path"].copy(), rows["predicted"].copy(), outputs.copy())


def _compile(argv: Sequence[str]) -> None:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False)
    except FileNotFoundError as err:
        raise CExportError(f"compiler {argv[0]!r} not found: {err}") from err
    except subprocess.TimeoutExpired:
        raise CExportError(f"{argv[0]} timed out after {COMPILE_TIMEOUT_S:g} s") from None
    if done.returncode != 0:
        raise CExportError(f"{argv[0]} failed ({done.returncode}): {(done.stderr or done.stdout)[-1500:]}")
