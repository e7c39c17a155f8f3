"""The ``unicorn-arm`` runner: an artifact's C export, cross-compiled for a Cortex-A32, counted on an emulated core.

    artifact (ONNX / TorchScript part) -> Program (``artifact_program``) -> dsl_model.c (``c_export``)
    -> arm-linux-gnueabihf-gcc, bare metal (``c_export.toolchain``) -> Unicorn core (``unicorn_board``)
    -> executed blocks per segment -> cycles (LLVM's scheduling model per block, ``cycle_model``) and
       instructions -> latency_ms = cycles / clock   (or, with ``cpi`` given, instructions * CPI / clock)

Why Unicorn: it is a pip package (QEMU's TCG as a library, nothing to build), runs the real compiled ARM
code bare metal (no OS, no libc) and lets this process write inputs, call ``dsl_process_segment`` and read
outputs and exact instruction counts per call. Debian's qemu-user would need a TCG plugin built against
QEMU's plugin header, which Debian ships in no binary package, and a Linux userland around the model.

The latency is **deterministic and modelled**: cycles of the executed blocks on LLVM's Cortex-R52 scheduling
model (the nearest in-order AArch32 model LLVM 14 has; ``cycle_model.CORTEX_A32`` says why), at ``clock_mhz``
(default 1.2 GHz): pipeline latencies and issue limits within each block, no caches, no branch prediction,
no power. Every output keeps the executed instructions beside the cycles. ``cpi=<number>`` selects the older
proxy, instructions x CPI / clock. Each measured segment is one "repeat" (streaming, state carried over),
so p10 / median / p90 are over segments; they differ only where data changes the branches (ELU, exp).
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
from dslnas.hw_models.runners.cycle_model import CORTEX_A32, CycleModel, MachineModel, missing_tools
from dslnas.hw_models.runners.routed import RoutedRun, RoutedRunner
from dslnas.spaces.errors import ConfigError

if TYPE_CHECKING:
    from dslnas.hw_models.c_export import CExportInfo
    from dslnas.hw_models.runners.unicorn_board import ArmImage, EmulatedArmCore, EmulatedSegment

DEFAULT_CLOCK_MHZ = 1200.0
PROXY_NOTE = "instructions x CPI / clock for an in-order core: no caches, no stalls, no power"
CYCLES_NOTE = "cycles per executed block from an LLVM scheduling model (llvm-mca) / clock: no caches, no power"


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

    def __init__(self, clock_mhz: float = DEFAULT_CLOCK_MHZ, cpi: float | None = None, segments: int = 3,
                 skip_zero_inputs: bool = False, seed: int = 0, work_dir: str | Path | None = None,
                 timeout_s: float = 600.0, machine_model: MachineModel = CORTEX_A32) -> None:
        if clock_mhz <= 0 or (cpi is not None and cpi <= 0) or segments < 1 or timeout_s <= 0:
            raise ConfigError(f"unicorn-arm runner: need clock_mhz > 0, cpi > 0 (or none: cycles), segments >= 1, "
                              f"timeout_s > 0; got {clock_mhz}, {cpi}, {segments}, {timeout_s}")
        self.clock_mhz, self.cpi, self.segments = float(clock_mhz), None if cpi is None else float(cpi), int(segments)
        self.cycle_model = CycleModel(machine_model) if cpi is None else None
        self.skip_zero_inputs, self.seed, self.timeout_s = bool(skip_zero_inputs), int(seed), float(timeout_s)
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="dslnas-unicorn-arm-")
        self.work_dir = Path(work_dir) if work_dir else Path(self._tmp.name)
        self._builds: dict[str, ArmBuild] = {}

    def unavailable_reason(self) -> str | None:
        """Why this host cannot run the board (no cross compiler; no llvm-mca for cycles), or None."""
        from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler

        return missing_compiler(ARM_CC) or (missing_tools() if self.cycle_model is not None else None)

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
        if self.cycle_model is None:
            return (f"emulated Cortex-A32 (Unicorn, {self.clock_mhz:g} MHz x CPI {self.cpi:g}; "
                    "instructions x CPI / clock, no caches or stalls)")
        return (f"emulated Cortex-A32 (Unicorn, {self.clock_mhz:g} MHz; cycles per executed block from the "
                f"{self.cycle_model.model.words}, no caches)")

    def segment_ms(self, run: "EmulatedSegment") -> float:
        """One segment's latency: its cycles (or instructions x CPI) at the clock."""
        cycles = run.instructions * self.cpi if self.cycle_model is None else run.cycles
        return cycles / (self.clock_mhz * 1e3)

    def core(self, info: "CExportInfo", image: "ArmImage") -> "EmulatedArmCore":
        """A fresh core for ``image``, initialised, estimating cycles unless the runner counts at a CPI."""
        from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore

        core = EmulatedArmCore(image, info.in_floats, (info.out_channels, info.out_frames), self.timeout_s,
                               cycle_model=self.cycle_model)
        core.init()
        return core

    def _timing(self, runs: list["EmulatedSegment"]) -> dict[str, Any]:
        """What a measurement's extras say about timing: instructions always, cycles where estimated."""
        instructions = [r.instructions for r in runs]
        timing: dict[str, Any] = {"clock_mhz": self.clock_mhz, "instructions_total": sum(instructions)}
        if self.cycle_model is None:
            return {**timing, "cpi": self.cpi, "proxy": PROXY_NOTE}
        cycles = [float(r.cycles) for r in runs]
        return {**timing, "cycles_total": sum(cycles), "cycles_per_instruction": sum(cycles) / max(sum(instructions), 1),
                "machine_model": self.cycle_model.model.words, "proxy": CYCLES_NOTE}

    def run_routed(self, info: "CExportInfo", segments: np.ndarray) -> RoutedRun:
        """Cross-compile a routed export (``c_export.CExportInfo``) and stream ``segments`` (``[S, in_floats]``
        float32 audio, in order) through it with automatic routing; CExportError when it cannot be built or run."""
        from dslnas.hw_models.c_export.toolchain import build_arm_image
        from dslnas.hw_models.runners.unicorn_board import load_image

        core = self.core(info, load_image(build_arm_image(info)))
        runs = [core.segment(x, 0) for x in np.asarray(segments, dtype=np.float32).reshape(-1, info.in_floats)]
        return RoutedRun(tuple(r.path for r in runs), tuple(self.segment_ms(r) for r in runs),
                         {"instructions": tuple(r.instructions for r in runs), **self._timing(runs)})

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

    def _run(self, build: ArmBuild, artifact: Artifact) -> list["EmulatedSegment"]:
        info = build.info
        core = self.core(info, build.image)
        inputs = segment_inputs(info.in_floats, info.in_channels, self.segments, self.seed)
        return [core.segment(x, build.force) for x in inputs]

    def _measurement(self, artifact: Artifact, build: ArmBuild, runs: list["EmulatedSegment"]) -> Measurement:
        from dslnas.hw_models.c_export.toolchain import ARM_CFLAGS

        latencies = [self.segment_ms(r) for r in runs]
        p10, median, p90 = (float(v) for v in np.percentile(latencies, [10, 50, 90]))
        check_spread(artifact.key, median, p10, p90)
        info, image = build.info, build.image
        counts = [r.instructions for r in runs]
        extra = {
            "instructions_per_segment": counts, "instructions_median": float(np.median(counts)),
            **({} if self.cycle_model is None else {"cycles_per_segment": [float(r.cycles) for r in runs]}),
            **self._timing(runs), "path": build.force,
            "cpu_flags": list(ARM_CFLAGS), "skip_zero_inputs": self.skip_zero_inputs,
            "code_bytes": image.text_bytes, "rodata_bytes": image.rodata_bytes,
            "ram_bytes": info.ram_bytes, "state_bytes": info.state_bytes, "scratch_bytes": info.scratch_bytes,
            "weight_bytes": info.weight_bytes,
        }
        return Measurement(artifact.key, median, p10, p90, len(runs), self.name, extra=extra)


def segment_inputs(in_floats: int, in_channels: int, segments: int, seed: int = 0) -> np.ndarray:
    """What the runner streams through a part: ``[segments, in_floats]`` float32 Gaussian noise, at a
    speech-like level (0.1) for audio (one channel), unit scale for features; seeded."""
    scale = 0.1 if in_channels == 1 else 1.0
    return (scale * np.random.default_rng(seed).standard_normal((segments, in_floats))).astype(np.float32)
