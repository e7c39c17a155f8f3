"""Cycles of executed code from LLVM's scheduling model: per basic block, ``llvm-mca``, weighted by execution counts.

    executed blocks (code bytes, times run; an emulator's block hook) -> llvm-mc disassembles the new ones
    -> llvm-mca, one code region per block, ``iterations`` back to back on the CPU's scheduling model
    -> steady-state cycles per run of each block (total cycles / iterations), cached by block bytes
    -> cycles = sum(times run x cycles per run); instructions = sum(times run x instructions)

A block is timed as if it ran back to back with itself (a loop body is exactly that), so dependencies
*between* different blocks, branch mispredictions, caches and memory latency beyond the model's load
latency are not seen: this is a pipeline model of the core, not a cycle-accurate simulator. An
instruction the CPU's model has no scheduling data for (LLVM 14's Cortex-R52 model lacks ``vmov.f32``
and ``vmrs`` for example) is removed from the region and priced :data:`UNMODELLED_CYCLES` cycle each;
the estimate counts them (``unmodelled_instructions``), so the share that is guessed is always known.
A call (``bl``, ``blx``) is timed as the plain branch it is to the pipeline (``b``, ``bx``): llvm-mca
assumes 100 cycles for any call, as it does not follow it; the callee's blocks are counted where they run.

Which model stands in for which core: :data:`CORTEX_A32` and :data:`CORTEX_M33` (see ``docs/cost-model.md``). The API is two
calls: ``CycleModel(MachineModel(...)).estimate([(code bytes, times run), ...]) -> CycleEstimate``; a
board for another ISA (Thumb-2 on a Cortex-M) passes its own :class:`MachineModel` (triple and cpu).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dslnas.hw_models.c_export.program import CExportError

UNMODELLED_CYCLES = 1.0  # one issue slot for an instruction the scheduling model does not know
DEFAULT_ITERATIONS = 100
LLVM_MC, LLVM_MCA = "llvm-mc", "llvm-mca"
_MAX_RETRIES = 64
_ENCODING = re.compile(r"^\s*(.*?)\s*@ encoding: \[([^\]]*)\]")
_REGION = re.compile(r"Code Region - b(\d+)\s.*?Total Cycles:\s+(\d+)", re.S)
_UNSUPPORTED = re.compile(r"note: instruction:\s*(.+)")
_BAD_LINE = re.compile(r"^\S+\.s:(\d+):\d+: error", re.M)
_CONDITIONS = ("", "eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")


class CycleModelError(CExportError):
    """llvm-mc / llvm-mca missing, or code they cannot read."""


@dataclass(frozen=True)
class MachineModel:
    """An LLVM scheduling model: ``triple`` and ``cpu`` as llvm-mca takes them, ``mattr`` features to add."""

    triple: str
    cpu: str
    mattr: str = ""
    iterations: int = DEFAULT_ITERATIONS

    @property
    def words(self) -> str:
        return f"LLVM {self.cpu} scheduling model ({self.triple}, llvm-mca)"


# The nearest in-order AArch32 model LLVM 14 has for the Cortex-A32 (which has none): the Cortex-R52,
# Armv8-R AArch32, in order, dual issue, 8 stages, VFP/NEON; the A32 is Armv8-A AArch32, in order, partial
# dual issue, 8 stages. Cortex-A7/A8/A53/A55 have no AArch32 machine model in LLVM 14 (A53/A55: AArch64 only).
CORTEX_A32 = MachineModel("armv8a", "cortex-r52", "+neon,+fp-armv8")
# The Cortex-M33 in Thumb-2 (FPv5 single precision, DSP). LLVM 14 knows ``-mcpu=cortex-m33`` but gives it the
# Cortex-M4's scheduling model (``CortexM4Model``: one ``M4Unit``, single issue, in order; llvm-mca prints the
# same timings for cortex-m4 and cortex-m33): there is no M33-specific model. The M4 is the nearest core with
# one: in order, 3-stage pipeline, single issue, Thumb-2 with DSP and a single-precision FPU, as the M33 is
# (Armv8-M Mainline, 3 stages, optional limited dual issue of 16-bit pairs, which the model does not see).
CORTEX_M33 = MachineModel("thumbv8m.main", "cortex-m33", "+fp-armv8d16sp,+dsp")


@dataclass(frozen=True)
class BlockCycles:
    """One block: its instructions, steady-state cycles per run, and how many of them the model lacks."""

    instructions: int
    cycles: float
    unmodelled: int


@dataclass(frozen=True)
class CycleEstimate:
    """Executed instructions and estimated cycles of a run (``unmodelled_instructions``: executed ones priced
    :data:`UNMODELLED_CYCLES` each because the model has no data for them)."""

    instructions: int
    cycles: float
    unmodelled_instructions: int
    blocks: int

    @property
    def cycles_per_instruction(self) -> float:
        return self.cycles / self.instructions if self.instructions else 0.0


def missing_tools() -> str | None:
    """Why cycles cannot be estimated on this host (llvm-mc or llvm-mca not on PATH), or None."""
    absent = [tool for tool in (LLVM_MC, LLVM_MCA) if shutil.which(tool) is None]
    return f"{' and '.join(absent)} (Debian package llvm)" if absent else None


class CycleModel:
    """Block cycles on ``model``, cached by block bytes (the same bytes always cost the same)."""

    def __init__(self, model: MachineModel = CORTEX_A32, timeout_s: float = 120.0) -> None:
        self.model, self.timeout_s = model, timeout_s
        self._cache: dict[bytes, BlockCycles] = {}
        self._unmodelled: set[str] = set()  # instruction shapes (signature()) the model has no data for

    def estimate(self, executed: Iterable[tuple[bytes, int]]) -> CycleEstimate:
        """``executed``: ``(block code bytes, times run)`` pairs; the totals weighted by times run."""
        runs = [(code, int(n)) for code, n in executed if n > 0]
        priced = self.blocks([code for code, _ in runs])
        return CycleEstimate(
            instructions=sum(n * b.instructions for (_, n), b in zip(runs, priced)),
            cycles=float(sum(n * b.cycles for (_, n), b in zip(runs, priced))),
            unmodelled_instructions=sum(n * b.unmodelled for (_, n), b in zip(runs, priced)), blocks=len(runs))

    def blocks(self, codes: Sequence[bytes]) -> list[BlockCycles]:
        """:class:`BlockCycles` of each block (new ones go to llvm-mc and llvm-mca in one batch)."""
        new = sorted({code for code in codes if code not in self._cache})
        if new:
            self._cache.update(zip(new, self._price(new)))
        return [self._cache[code] for code in codes]

    def _price(self, codes: list[bytes]) -> list[BlockCycles]:
        missing = missing_tools()
        if missing is not None:
            raise CycleModelError(f"cycle estimates need {missing}")
        texts = self._disassemble(codes)
        lines = [f"# LLVM-MCA-BEGIN b{i}\n" + "\n".join(text) + "\n# LLVM-MCA-END" for i, text in enumerate(texts)]
        cycles, dropped = self._mca(lines)
        return [BlockCycles(len(text), cycles[i] + UNMODELLED_CYCLES * dropped[i], dropped[i])
                for i, text in enumerate(texts)]

    def _disassemble(self, codes: list[bytes]) -> list[list[str]]:
        """Each block's instructions as assembly text (split by their encodings' sizes)."""
        data = b"".join(codes)
        done = self._tool([LLVM_MC, "--disassemble", "-show-encoding", f"-triple={self.model.triple}",
                           *([f"-mattr={self.model.mattr}"] if self.model.mattr else [])],
                          " ".join(f"0x{b:02x}" for b in data))
        found = [(m.group(1), m.group(2).count(",") + 1) for m in map(_ENCODING.match, done.stdout.splitlines()) if m]
        if sum(size for _, size in found) != len(data):
            raise CycleModelError(f"llvm-mc decoded {sum(s for _, s in found)} of {len(data)} code bytes "
                                  f"({self.model.triple}): {done.stderr.strip()[:300]}")
        texts, position = [], 0
        for code in codes:
            block, size = [], 0
            while size < len(code):
                text, width = found[position]
                block.append(as_branch(text))
                size, position = size + width, position + 1
            if size != len(code):
                raise CycleModelError(f"an instruction straddles a block end at byte {size} of a {len(code)}-byte block")
            texts.append(block)
        return texts

    def _mca(self, regions: list[str]) -> tuple[list[float], list[int]]:
        """Steady-state cycles per run of each region, and how many lines were dropped from each as unmodelled."""
        source = "\n".join(regions).splitlines()
        region_of = _region_of_lines(source)
        dropped = [0] * len(regions)
        with tempfile.TemporaryDirectory(prefix="dslnas-mca-") as folder:
            path = Path(folder) / "blocks.s"
            for _ in range(_MAX_RETRIES):
                bad = [i for i, line in enumerate(source) if not line.startswith("#") and signature(line) in self._unmodelled]
                for line in bad:
                    source[line] = "# unmodelled: " + source[line]
                    dropped[region_of[line]] += 1
                live = sorted({region_of[i] for i, line in enumerate(source) if not line.startswith("#")})
                if not live:  # every instruction unmodelled: nothing left for llvm-mca
                    return [0.0] * len(regions), dropped
                path.write_text("\n".join(source) + "\n")
                done = self._tool([LLVM_MCA, f"-mtriple={self.model.triple}", f"-mcpu={self.model.cpu}",
                                   *([f"-mattr={self.model.mattr}"] if self.model.mattr else []),
                                   f"-iterations={self.model.iterations}", str(path)], None, check=False)
                if done.returncode == 0:
                    return _region_cycles(done.stdout, len(regions), live, self.model.iterations), dropped
                rejected = _unmodelled_lines(done.stderr, source)
                if not rejected:
                    raise CycleModelError(f"llvm-mca ({self.model.cpu}) failed: {done.stderr.strip()[:300]}")
                self._unmodelled |= {signature(source[i]) for i in rejected}
        raise CycleModelError(f"llvm-mca ({self.model.cpu}): more than {_MAX_RETRIES} rounds of unmodelled instructions")

    def _tool(self, command: list[str], stdin: str | None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=self.timeout_s, check=False)
        if check and done.returncode != 0:
            raise CycleModelError(f"{command[0]} failed: {done.stderr.strip()[:300]}")
        return done


def signature(text: str) -> str:
    """An instruction's shape: its mnemonic and operands with registers and immediates generalised
    (``vmov.f32 s15, s0`` and ``vmov.f32 s12, s14`` are one shape, one opcode to the scheduling model)."""
    text = re.sub(r"\b(?:[rsdq]\d+|sp|lr|pc|ip|fp)\b", "R", text.strip())
    return re.sub(r"#-?[\w.+]+", "#", text)


def as_branch(text: str) -> str:
    """A call (``bl``/``blx``, any condition) as the plain branch (``b``/``bx``); other text unchanged."""
    mnemonic, _, operands = text.strip().partition("\t")
    for call, branch in (("blx", "bx"), ("bl", "b")):
        if mnemonic.startswith(call) and mnemonic[len(call):] in _CONDITIONS:  # blt, ble, bls: b + a condition
            return f"{branch}{mnemonic[len(call):]}\t{operands}"
    return text


def _region_of_lines(source: list[str]) -> list[int]:
    """Per source line, the index of the region it sits in (-1 outside any)."""
    owner, current = [], -1
    for line in source:
        if line.startswith("# LLVM-MCA-BEGIN b"):
            current = int(line.rsplit("b", 1)[1])
        owner.append(current)
    return owner


def _unmodelled_lines(stderr: str, source: list[str]) -> list[int]:
    """Source lines llvm-mca rejected: an instruction without scheduling data (every line of that text), or
    one the assembler refused for this CPU (by line number)."""
    lines = {int(m) - 1 for m in _BAD_LINE.findall(stderr)}
    for text in (t.strip() for t in _UNSUPPORTED.findall(stderr)):
        lines |= {i for i, line in enumerate(source) if line.strip() == text}
    return sorted(i for i in lines if 0 <= i < len(source) and not source[i].startswith("#"))


def _region_cycles(stdout: str, n_regions: int, live: list[int], iterations: int) -> list[float]:
    """Cycles per run of each region from llvm-mca's report; a region left empty (all unmodelled) costs 0 here."""
    found = {int(index): int(total) for index, total in _REGION.findall(stdout)}
    if sorted(found) != live:
        raise CycleModelError(f"llvm-mca reported {len(found)} of {len(live)} non-empty code regions")
    return [found.get(i, 0) / iterations for i in range(n_regions)]
