"""The ``unicorn-arm`` runner: an artifact's C export, cross-compiled for a Cortex-A32, counted on an emulated core.

    artifact (ONNX / TorchScript part) -> Program (``artifact_program``) -> dsl_model.c (``c_export``)
    -> arm-linux-gnueabihf-gcc, bare metal (``c_export.toolchain``) -> Unicorn core (``unicorn_board``)
    -> executed instructions per segment -> latency_ms = instructions * CPI / clock

Why Unicorn: it is a pip package (QEMU's TCG as a library, nothing to build), runs the real compiled ARM
code bare metal (no OS, no libc) and lets this process write inputs, call ``dsl_process_segment`` and read
outputs and exact instruction counts per call. Debian's qemu-user would need a TCG plugin built against
QEMU's plugin header, which Debian ships in no binary package, and a Linux userland around the model.

The latency is a **deterministic proxy**: instructions, not cycles, for an in-order core at ``clock_mhz``
with ``cpi`` cycles per instruction (default 1.2 GHz, CPI 1.0): no pipeline stalls, caches, memory latency
or power. Each measured segment is one "repeat" (streaming, state carried over), so p10 / median / p90 are
over segments; for dense kernels they differ only where data changes the branches (ELU, exp).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dslnas.hw_models.runners.artifact import Artifact, ExportError
from dslnas.hw_models.runners.base import Measurement, MeasurementError, check_spread
from dslnas.hw_models.runners.routed import RoutedRun, RoutedRunner
from dslnas.spaces.errors import ConfigError

if TYPE_CHECKING:
    from dslnas.hw_models.c_export import CExportInfo

DEFAULT_CLOCK_MHZ = 1200.0
DEFAULT_CPI = 1.0
PROXY_NOTE = "instructions x CPI / clock for an in-order core: no caches, no stalls, no power"


@dataclass(frozen=True)
class ArmBuild:
    """One artifact's C export and ARM image (cached per artifact file and settings)."""

    info: Any  # c_export.CExportInfo
    image: Any  # unicorn_board.ArmImage
    force: int


class EmulatedArmRunner(RoutedRunner):
    """Counts instructions of ``segments`` streaming segments of an artifact on an emulated Cortex-A32.

    A :class:`RoutedRunner`: :meth:`run_routed` also streams a whole routed C export (``export_c``) over
    audio with automatic routing, which is what a deployment runs.
    """

    name = "unicorn-arm"

    def __init__(self, clock_mhz: float = DEFAULT_CLOCK_MHZ, cpi: float = DEFAULT_CPI, segments: int = 3,
                 skip_zero_inputs: bool = False, seed: int = 0, work_dir: str | Path | None = None,
                 timeout_s: float = 600.0) -> None:
        if clock_mhz <= 0 or cpi <= 0 or segments < 1 or timeout_s <= 0:
            raise ConfigError(f"unicorn-arm runner: need clock_mhz > 0, cpi > 0, segments >= 1, timeout_s > 0; "
                              f"got {clock_mhz}, {cpi}, {segments}, {timeout_s}")
        self.clock_mhz, self.cpi, self.segments = float(clock_mhz), float(cpi), int(segments)
        self.skip_zero_inputs, self.seed, self.timeout_s = bool(skip_zero_inputs), int(seed), float(timeout_s)
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="dslnas-unicorn-arm-")
        self.work_dir = Path(work_dir) if work_dir else Path(self._tmp.name)
        self._builds: dict[str, ArmBuild] = {}

    def unavailable_reason(self) -> str | None:
        """Why this host cannot run the board (no cross compiler), or None."""
        from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler

        return missing_compiler(ARM_CC)

    def measure(self, artifact: Artifact) -> Measurement:
        from dslnas.hw_models.c_export.program import CExportError

        if not artifact.path.is_file():
            raise MeasurementError(artifact.key, f"artifact file {artifact.path} does not exist")
        try:
            build = self._build(artifact)
            counts = self._run(build, artifact)
        except (CExportError, ExportError) as err:
            raise MeasurementError(artifact.key, str(err)) from err
        return self._measurement(artifact, build, counts)

    @property
    def description(self) -> str:
        return (f"emulated Cortex-A32 (Unicorn, {self.clock_mhz:g} MHz x CPI {self.cpi:g}; "
                "instructions x CPI / clock, no caches or stalls)")

    def instructions_to_ms(self, instructions: float) -> float:
        return instructions * self.cpi / (self.clock_mhz * 1e3)

    def run_routed(self, info: "CExportInfo", segments: np.ndarray) -> RoutedRun:
        """Cross-compile a routed export (``c_export.CExportInfo``) and stream ``segments`` (``[S, in_floats]``
        float32 audio, in order) through it with automatic routing; CExportError when it cannot be built or run."""
        from dslnas.hw_models.c_export.toolchain import build_arm_image
        from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore, load_image

        image = load_image(build_arm_image(info))
        core = EmulatedArmCore(image, info.in_floats, (info.out_channels, info.out_frames), self.timeout_s)
        core.init()
        runs = [core.segment(x, 0) for x in np.asarray(segments, dtype=np.float32).reshape(-1, info.in_floats)]
        counts = tuple(r.instructions for r in runs)
        return RoutedRun(tuple(r.path for r in runs), tuple(self.instructions_to_ms(n) for n in counts),
                         {"instructions": counts, "clock_mhz": self.clock_mhz, "cpi": self.cpi})

    def _build(self, artifact: Artifact) -> ArmBuild:
        from dslnas.hw_models.c_export import export_program
        from dslnas.hw_models.c_export.toolchain import build_arm_image
        from dslnas.hw_models.runners.artifact_program import program_from_artifact
        from dslnas.hw_models.runners.unicorn_board import load_image

        digest = hashlib.sha256(artifact.path.read_bytes()).hexdigest()[:16]
        key = f"{artifact.key}-{digest}-{int(self.skip_zero_inputs)}"
        if key not in self._builds:
            program, force = program_from_artifact(artifact)
            out_dir = self.work_dir / f"{artifact.name}-{artifact.fmt.value}-{digest}"
            info = export_program(program, out_dir, 0.0, "warm", self.skip_zero_inputs)
            self._builds[key] = ArmBuild(info, load_image(build_arm_image(info)), force)
        return self._builds[key]

    def _run(self, build: ArmBuild, artifact: Artifact) -> list[int]:
        from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore

        info = build.info
        core = EmulatedArmCore(build.image, info.in_floats, (info.out_channels, info.out_frames), self.timeout_s)
        core.init()
        rng = np.random.default_rng(self.seed)
        scale = 0.1 if info.in_channels == 1 else 1.0  # audio at a speech-like level; features as they come
        inputs = (scale * rng.standard_normal((self.segments, info.in_floats))).astype(np.float32)
        return [core.segment(x, build.force).instructions for x in inputs]

    def _measurement(self, artifact: Artifact, build: ArmBuild, counts: list[int]) -> Measurement:
        from dslnas.hw_models.c_export.toolchain import ARM_CFLAGS

        latencies = [self.instructions_to_ms(n) for n in counts]
        p10, median, p90 = (float(v) for v in np.percentile(latencies, [10, 50, 90]))
        check_spread(artifact.key, median, p10, p90)
        info, image = build.info, build.image
        extra = {
            "instructions_per_segment": counts, "instructions_median": float(np.median(counts)),
            "clock_mhz": self.clock_mhz, "cpi": self.cpi, "proxy": PROXY_NOTE, "path": build.force,
            "cpu_flags": list(ARM_CFLAGS), "skip_zero_inputs": self.skip_zero_inputs,
            "code_bytes": image.text_bytes, "rodata_bytes": image.rodata_bytes,
            "ram_bytes": info.ram_bytes, "state_bytes": info.state_bytes, "scratch_bytes": info.scratch_bytes,
            "weight_bytes": info.weight_bytes,
        }
        return Measurement(artifact.key, median, p10, p90, len(counts), self.name, extra=extra)
