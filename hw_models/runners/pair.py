"""The ``unicorn-pair`` runner: a routed encoder split at the DSL across two emulated cores and a mailbox.

    always-on Cortex-M33 @ 160 MHz (Thumb-2)          application Cortex-A32 @ 1200 MHz (ARM state)
    base + mask + switch, light tail        mailbox    full tail, woken only for segments routed to it
    (front image, ``c_export.pair``)      ---------->  (full image)
                                          <----------  embedding back

Per segment it counts each part's executed instructions and estimates its cycles on its core (front, light
tail, mailbox encode on the M33; mailbox decode, full tail on the A32), the bytes the front wrote into the mailbox (its sparse
encoding, :data:`~dslnas.hw_models.c_export.pair.MAILBOX_HEADER_BYTES` of header included) and the
embedding's bytes back, and whether the A32 was woken. Latency per segment, in order::

    light: (front + light) / f_M33
    full:  (front + encode) / f_M33 + doorbell + wake + (decode + full) / f_A32 + doorbell

A part's time is its cycles at its core's clock: cycles per executed block from LLVM's scheduling model
(``cycle_model``: :data:`~dslnas.hw_models.runners.cycle_model.CORTEX_M33`, the Cortex-M4 model, on the M33;
:data:`~dslnas.hw_models.runners.cycle_model.CORTEX_A32`, the Cortex-R52 model, on the A32), weighted by the
emulator's block counts; no caches, flash wait states or bus contention. ``cpi=<number>`` selects the older
proxy, instructions x CPI / clock. The doorbell (mailbox interrupt) latency, the wake-up's latency and
energy, and each core's active power are **stand-ins** from public datasheets (:class:`PairStandIns`, ``docs/placement.md``): no measurement of them can exist here.
``measure(artifact)`` runs one exported part on the M33 alone (what ``dslnas calibrate --runner
unicorn-pair`` fits the always-on unit on; ``unicorn-arm`` fits the A32).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dslnas.hw_models.runners.artifact import Artifact, ExportError
from dslnas.hw_models.runners.base import Measurement, MeasurementError, check_spread
from dslnas.hw_models.runners.cycle_model import CORTEX_A32, CORTEX_M33, CycleModel, missing_tools
from dslnas.hw_models.runners.pair_segment import PairSegment
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT, RoutedRun, RoutedRunner
from dslnas.spaces.errors import ConfigError

if TYPE_CHECKING:
    from dslnas.hw_models.c_export import CExportInfo

CYCLES_NOTE = ("cycles per executed block from LLVM's scheduling models (M33: cortex-m4 model; A32: cortex-r52 "
               "model) / clock on each core; mailbox doorbell and wake-up from datasheet stand-ins")
FRONT_PARTS_M33 = ("front", "light", "encode")
PARTS_A32 = ("decode", "full")


@dataclass(frozen=True)
class PairStandIns:
    """What cannot be measured on emulated cores, from public datasheets (labelled stand-ins, docs/placement.md).

    Clocks: an STM32U5-class M33 at 160 MHz, a Cortex-A32 at 1.2 GHz (the ``unicorn-arm`` board's). Power:
    active (running) per core and the A32's wake-up from its retention state. ``doorbell_ms``: one mailbox
    interrupt (send or reply). ``link_pj_per_byte``: one byte written and read back through shared SRAM.
    """

    m33_clock_mhz: float = 160.0
    a32_clock_mhz: float = 1200.0
    m33_active_mw: float = 10.0
    m33_static_mw: float = 0.3
    a32_active_mw: float = 100.0
    a32_static_mw: float = 1.0
    wake_ms: float = 0.1
    wake_uj: float = 20.0
    doorbell_ms: float = 0.002
    link_pj_per_byte: float = 10.0

    def __post_init__(self) -> None:
        bad = [k for k, v in asdict(self).items() if not (v >= 0) or (k.endswith("clock_mhz") and v <= 0)]
        if bad:
            raise ConfigError(f"unicorn-pair stand-ins must be >= 0 (clocks > 0): {', '.join(bad)}")


def part_cycles(seg: PairSegment, part: str, cpi: float | None) -> float:
    """One part's cycles in one segment: estimated (``cpi`` None), or its instructions x ``cpi``."""
    if cpi is not None:
        return seg.instructions.get(part, 0) * cpi
    if seg.instructions.get(part, 0) and part not in seg.cycles:
        raise MeasurementError("unicorn-pair", f"part {part} ran without a cycle estimate (a runner with cpi=None)")
    return seg.cycles.get(part, 0.0)


def segment_ms(seg: PairSegment, s: PairStandIns, cpi: float | None = None) -> dict[str, float]:
    """Per part of one segment, milliseconds on its core (cycles, or instructions x ``cpi``, / clock);
    ``link`` and ``wake`` from the stand-ins."""
    on_m = {p: part_cycles(seg, p, cpi) / (s.m33_clock_mhz * 1e3) for p in FRONT_PARTS_M33}
    on_a = {p: part_cycles(seg, p, cpi) / (s.a32_clock_mhz * 1e3) for p in PARTS_A32}
    woke = float(seg.woke)
    return {**on_m, **on_a, "link": 2 * s.doorbell_ms * woke, "wake": s.wake_ms * woke}


def segment_energy_uj(seg: PairSegment, s: PairStandIns, cpi: float | None = None) -> float:
    """Dynamic energy of one segment: each core active for its parts, the wake-up, the bytes through SRAM."""
    ms = segment_ms(seg, s, cpi)
    m33 = s.m33_active_mw * sum(ms[p] for p in FRONT_PARTS_M33)
    a32 = s.a32_active_mw * sum(ms[p] for p in PARTS_A32)
    link = s.link_pj_per_byte * (seg.mailbox_bytes + seg.back_bytes) * 1e-6
    return m33 + a32 + s.wake_uj * seg.woke + link


class PairRunner(RoutedRunner):
    """Streams a routed C export split across an emulated M33 and A32 (``run_routed``); ``measure`` times one
    exported part on the M33 alone. ``cpi``: None times cycles on LLVM's models; a number, instructions x CPI."""

    name = "unicorn-pair"

    def __init__(self, segments: int = 3, seed: int = 0, timeout_s: float = 600.0,
                 work_dir: str | Path | None = None, cpi: float | None = None) -> None:
        if segments < 1 or timeout_s <= 0 or (cpi is not None and not cpi > 0):
            raise ConfigError(f"unicorn-pair runner: need segments >= 1, timeout_s > 0, cpi > 0 (or none: cycles); "
                              f"got {segments}, {timeout_s}, {cpi}")
        self.segments, self.seed, self.timeout_s = int(segments), int(seed), float(timeout_s)
        self.cpi = None if cpi is None else float(cpi)
        self.stand_ins = PairStandIns()
        self._cycles = None if cpi is not None else (CycleModel(CORTEX_M33), CycleModel(CORTEX_A32))
        self._tmp = None if work_dir else tempfile.TemporaryDirectory(prefix="dslnas-unicorn-pair-")
        self.work_dir = Path(work_dir) if work_dir else Path(self._tmp.name)

    @property
    def description(self) -> str:
        s = self.stand_ins
        timing = (f"instructions x CPI {self.cpi:g}" if self.cpi is not None else
                  f"cycles from the {CORTEX_M33.words} and the {CORTEX_A32.words}")
        return (f"emulated Cortex-M33 @ {s.m33_clock_mhz:g} MHz + Cortex-A32 @ {s.a32_clock_mhz:g} MHz (Unicorn; "
                f"{timing} / clock; mailbox, wake-up and power: datasheet stand-ins)")

    def unavailable_reason(self) -> str | None:
        from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler

        return missing_compiler(ARM_CC) or (missing_tools() if self._cycles is not None else None)

    def run_routed(self, info: "CExportInfo", segments: np.ndarray) -> RoutedRun:
        """Stream ``segments`` ``[S, in_floats]`` through the split export with automatic routing."""
        from dslnas.hw_models.runners.pair_stream import PairStream

        stream = PairStream(info, self.timeout_s, *(self._cycles or (None, None)))
        runs = [stream.segment(x) for x in np.asarray(segments, dtype=np.float32).reshape(-1, info.in_floats)]
        latencies = tuple(sum(segment_ms(r, self.stand_ins, self.cpi).values()) for r in runs)
        return RoutedRun(tuple(r.path for r in runs), latencies, pair_extra(runs, self.stand_ins, self.cpi))

    def measure(self, artifact: Artifact) -> Measurement:
        from dslnas.hw_models.c_export.program import CExportError

        if not artifact.path.is_file():
            raise MeasurementError(artifact.key, f"artifact file {artifact.path} does not exist")
        try:
            counts, cycles, force = self._count_part(artifact)
        except (CExportError, ExportError) as err:
            raise MeasurementError(artifact.key, str(err)) from err
        work = cycles if self.cpi is None else [n * self.cpi for n in counts]
        latencies = [c / (self.stand_ins.m33_clock_mhz * 1e3) for c in work]
        p10, median, p90 = (float(v) for v in np.percentile(latencies, [10, 50, 90]))
        check_spread(artifact.key, median, p10, p90)
        timing = ({"cpi": self.cpi, "proxy": "instructions x CPI / clock on the M33"} if self.cpi is not None else
                  {"cycles_per_segment": cycles, "machine_model": CORTEX_M33.words, "proxy": "cycles / clock on the M33"})
        extra = {"instructions_per_segment": counts, "clock_mhz": self.stand_ins.m33_clock_mhz, **timing,
                 "core": "cortex-m33", "path": force}
        return Measurement(artifact.key, median, p10, p90, len(counts), self.name, extra=extra)

    def _count_part(self, artifact: Artifact) -> tuple[list[int], list[float], int]:
        from dslnas.hw_models.c_export import export_program
        from dslnas.hw_models.c_export.pair import build_m33_image
        from dslnas.hw_models.runners.artifact_program import program_from_artifact
        from dslnas.hw_models.runners.pair_board import HARNESS_SYMBOLS, EmulatedM33, load_thumb_image

        digest = hashlib.sha256(artifact.path.read_bytes()).hexdigest()[:16]
        program, force = program_from_artifact(artifact)
        info = export_program(program, self.work_dir / f"{artifact.name}-{artifact.fmt.value}-{digest}", 0.0, "warm")
        core = EmulatedM33(load_thumb_image(build_m33_image(info), HARNESS_SYMBOLS), self.timeout_s,
                           self._cycles[0] if self._cycles else None)
        core.call("dsl_bm_init")
        rng = np.random.default_rng(self.seed)
        scale = 0.1 if info.in_channels == 1 else 1.0
        counts, cycles = [], []
        for x in (scale * rng.standard_normal((self.segments, info.in_floats))).astype("<f4"):
            core.uc.mem_write(core.image.symbols["dsl_io_in"], x.tobytes())
            path, n = core.call("dsl_bm_segment", force)
            if path < 0:
                raise MeasurementError(artifact.key, f"force {force} names a path the program lacks")
            counts.append(n)
            cycles.append(float(core.last_cycles) if core.last_cycles is not None else float("nan"))
        return counts, cycles, force


def pair_extra(runs: list[PairSegment], s: PairStandIns, cpi: float | None = None) -> dict[str, Any]:
    """What a routed pair run reports beside its latencies: per part instructions and cycles (x ``cpi`` at a
    CPI proxy), the link, the wake-ups, energy."""
    names = (*FRONT_PARTS_M33, *PARTS_A32)
    parts = {p: [r.instructions.get(p, 0) for r in runs] for p in names}
    cycles = {p: [part_cycles(r, p, cpi) for r in runs] for p in names}
    ms = [segment_ms(r, s, cpi) for r in runs]
    full = [r for r in runs if r.path == PATH_FULL]
    return {
        "instructions_per_part": parts, "cycles_per_part": cycles,
        "ms_per_part_mean": {p: float(np.mean([m[p] for m in ms])) for p in ms[0]},
        "link_bytes_to_full_core": [r.mailbox_bytes for r in runs],
        "link_bytes_back": [r.back_bytes for r in runs],
        "link_floats_to_full_core": [r.mailbox_floats for r in runs],
        "link_bytes_per_segment_mean": float(np.mean([r.mailbox_bytes + r.back_bytes for r in runs])),
        "wakeups": len(full), "segments": len(runs),
        "light_segments": sum(r.path == PATH_LIGHT for r in runs),
        "energy_uj_per_segment_mean": float(np.mean([segment_energy_uj(r, s, cpi) for r in runs])),
        "energy": "stand-in power x measured busy time + wake-ups + link bytes (no power measurement exists)",
        "stand_ins": asdict(s), **({"cpi": cpi, "proxy": "instructions x CPI / clock on each core; mailbox doorbell "
                                     "and wake-up from datasheet stand-ins"} if cpi is not None else
                                    {"machine_models": {"m33": CORTEX_M33.words, "a32": CORTEX_A32.words},
                                     "proxy": CYCLES_NOTE}),
    }
