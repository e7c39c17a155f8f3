"""An emulated bare-metal ARM core (Unicorn, QEMU's TCG as a library) that runs a cross-compiled C export.

The ELF (``c_export.toolchain.build_arm_image``) is loaded segment by segment at its link address into one
flat RAM region with a stack above it; VFP/NEON are switched on (CPACR cp10/cp11 full access, FPEXC.EN).
A call sets ``r0`` and ``lr = dsl_bm_halt`` and runs until the core reaches ``dsl_bm_halt``.

Per call the core records every executed block, keyed by ``(address, size)``, with how often it ran
(:meth:`EmulatedArmCore.executed_blocks`). Instruction counting is exact for this image: the image is ARM
state only (checked at load: no Thumb function symbols), so instructions = bytes / 4. Given a
:class:`~dslnas.hw_models.runners.cycle_model.CycleModel`, each call also estimates cycles from the blocks
(LLVM's scheduling model, weighted by the counts; ``EmulatedSegment.cycles``). The hook is a small C
function (an open-addressing table of blocks) built once per process with the host gcc and handed to
Unicorn's C API (a Python hook costs ~20x the emulation itself); without gcc a Python hook does the same.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_HOOK_BLOCK, UC_MODE_ARM, Uc, UcError
from unicorn import arm_const as arm

from dslnas.hw_models.c_export.program import CExportError

if TYPE_CHECKING:
    from dslnas.hw_models.runners.cycle_model import CycleModel

ARM_INSTRUCTION_BYTES = 4
STACK_BYTES = 1 << 20
PAGE = 0x1000
IO_SYMBOLS = ("dsl_io_in", "dsl_io_out", "dsl_io_predicted", "dsl_io_path", "dsl_bm_init", "dsl_bm_segment", "dsl_bm_halt")
CPACR_CP10_CP11_FULL = 0xF << 20
FPEXC_EN = 1 << 30
BLOCK_SLOTS = 1 << 16  # distinct (address, size) blocks one call can record; a model runs a few hundred
BLOCK_COUNTER_C = """#include <stdint.h>
#define SLOTS %d
typedef struct { uint64_t address, size, count; } slot_t;
typedef struct { uint64_t total_bytes, overflow; slot_t slots[SLOTS]; } table_t;
void dsl_count_block(void *uc, uint64_t address, uint32_t size, void *user)
{
    table_t *t = (table_t *)user;
    uint64_t h = (address >> 1) ^ (address >> 13);
    (void)uc;
    t->total_bytes += size;
    for (uint32_t i = 0; i < SLOTS; i++) {
        slot_t *s = &t->slots[(h + i) & (SLOTS - 1)];
        if (s->count == 0) { s->address = address; s->size = size; }
        if (s->address == address && s->size == size) { s->count++; return; }
    }
    t->overflow++;
}
""" % BLOCK_SLOTS


class _Slot(ctypes.Structure):
    _fields_ = [("address", ctypes.c_uint64), ("size", ctypes.c_uint64), ("count", ctypes.c_uint64)]


class _BlockTable(ctypes.Structure):
    """What the C hook fills (its ``table_t``)."""

    _fields_ = [("total_bytes", ctypes.c_uint64), ("overflow", ctypes.c_uint64), ("slots", _Slot * BLOCK_SLOTS)]


@functools.cache
def native_block_counter() -> ctypes.CDLL | None:
    """The compiled block-size accumulator (built once per process), or None without a host gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    lib = build_hook_library(gcc, BLOCK_COUNTER_C, "dslnas-block-counter-")
    return lib if isinstance(lib, ctypes.CDLL) else None


def build_hook_library(gcc: str, c_source: str, prefix: str) -> ctypes.CDLL | str:
    """``c_source`` (a native unicorn hook) compiled by ``gcc`` into a shared library and loaded, or the
    compiler's error text. The library keeps its temporary folder alive as long as it lives."""
    folder = tempfile.TemporaryDirectory(prefix=prefix)
    source, library = Path(folder.name) / "hook.c", Path(folder.name) / "hook.so"
    source.write_text(c_source)
    done = subprocess.run([gcc, "-O2", "-shared", "-fPIC", str(source), "-o", str(library)],
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return done.stderr[-500:]
    lib = ctypes.CDLL(str(library))
    lib._folder = folder
    return lib


class BlockCounter:
    """Counts the executed blocks of one Unicorn engine between :meth:`reset` calls (any ISA: ARM or Thumb).

    ``native``: with the compiled hook (:func:`native_block_counter`) when it can be built; ``kind`` says
    which one runs (``"native"`` or ``"python"``)."""

    def __init__(self, uc: Uc, native: bool = True) -> None:
        self._uc = uc
        self._table = _BlockTable()
        self._python_blocks: dict[tuple[int, int], int] = {}
        self._code: dict[tuple[int, int], bytes] = {}
        self.kind = self._hook_native() if native else None
        if self.kind is None:
            uc.hook_add(UC_HOOK_BLOCK, self._count_block)
            self.kind = "python"

    def _hook_native(self) -> str | None:
        lib = native_block_counter()
        if lib is None:
            return None
        from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

        handle = uc_hook_h()
        status = uclib.uc_hook_add(self._uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK,
                                   ctypes.cast(lib.dsl_count_block, ctypes.c_void_p),
                                   ctypes.c_void_p(ctypes.addressof(self._table)), ctypes.c_uint64(1),
                                   ctypes.c_uint64(0))
        if status != 0:
            return None
        self._native = (lib, handle)  # keep the library loaded while the hook can fire
        return "native"

    def _count_block(self, uc: Uc, address: int, size: int, user_data: object) -> None:
        key = (address, size)
        self._python_blocks[key] = self._python_blocks.get(key, 0) + 1

    def reset(self) -> None:
        """Forget the counts (before a call)."""
        ctypes.memset(ctypes.addressof(self._table), 0, ctypes.sizeof(self._table))
        self._python_blocks.clear()

    def executed_blocks(self) -> dict[tuple[int, int], int]:
        """Blocks run since :meth:`reset`: ``{(address, size in bytes): times run}``."""
        if self.kind == "python":
            return dict(self._python_blocks)
        if self._table.overflow:
            raise CExportError(f"more than {BLOCK_SLOTS} distinct blocks in one call: the block table is full")
        counts = np.frombuffer(self._table.slots, dtype=np.uint64).reshape(BLOCK_SLOTS, 3)
        used = counts[counts[:, 2] > 0]
        return {(int(a), int(n)): int(c) for a, n, c in used}

    def executed_code(self) -> list[tuple[bytes, int]]:
        """Blocks run since :meth:`reset` as ``(code bytes, times run)``, what a cycle model reads."""
        blocks = self.executed_blocks()
        for key in blocks.keys() - self._code.keys():
            self._code[key] = bytes(self._uc.mem_read(*key))
        return [(self._code[key], n) for key, n in blocks.items()]


@dataclass(frozen=True)
class ArmImage:
    """A loaded bare-metal ELF: loadable segments ``(address, file bytes, memory size)``, symbols, section sizes."""

    path: Path
    segments: tuple[tuple[int, bytes, int], ...]
    symbols: dict[str, int]
    text_bytes: int
    rodata_bytes: int
    data_bytes: int
    bss_bytes: int

    @property
    def end(self) -> int:
        return max(addr + size for addr, _, size in self.segments)


def load_image(path: str | Path) -> ArmImage:
    """Read an ARM ELF; a Thumb function or a missing harness symbol is a CExportError."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        if elf["e_machine"] != "EM_ARM":
            raise CExportError(f"{path} is not an ARM ELF ({elf['e_machine']})")
        segments = tuple((s["p_vaddr"], s.data(), s["p_memsz"]) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        table = elf.get_section_by_name(".symtab")
        symbols = {sym.name: sym["st_value"] for sym in table.iter_symbols() if sym.name} if table else {}
        thumb = sorted(sym.name for sym in table.iter_symbols()
                       if sym["st_info"]["type"] == "STT_FUNC" and sym["st_value"] & 1) if table else []
        sizes = {name: (elf.get_section_by_name(name) or {"sh_size": 0})["sh_size"]
                 for name in (".text", ".rodata", ".data", ".bss")}
    if thumb:
        raise CExportError(f"{path}: Thumb functions {thumb[:5]} (instruction counts assume ARM state)")
    missing = [name for name in IO_SYMBOLS if name not in symbols]
    if missing:
        raise CExportError(f"{path} lacks the harness symbols {missing}")
    return ArmImage(Path(path), segments, symbols, sizes[".text"], sizes[".rodata"], sizes[".data"], sizes[".bss"])


@dataclass(frozen=True)
class EmulatedSegment:
    """One ``dsl_process_segment`` call on the emulated core: path, predicted, output ``[C, F]``, instructions,
    and the estimated cycles (None without a cycle model)."""

    path: int
    predicted: float
    output: np.ndarray
    instructions: int
    cycles: float | None = None


class EmulatedArmCore:
    """A fresh core with ``image`` loaded; ``init()`` then ``segment(...)`` per segment, in stream order.

    ``native``: count blocks with the compiled hook when it can be built (``counter`` says which one runs).
    ``cycle_model``: also estimate each call's cycles (``last_cycles``; ``EmulatedSegment.cycles``).
    """

    def __init__(self, image: ArmImage, in_floats: int, out_shape: tuple[int, int], timeout_s: float = 600.0,
                 native: bool = True, cycle_model: "CycleModel | None" = None) -> None:
        self.image, self.in_floats, self.out_shape, self.timeout_s = image, in_floats, out_shape, timeout_s
        self.cycle_model, self.last_cycles = cycle_model, None
        self._uc = Uc(UC_ARCH_ARM, UC_MODE_ARM)
        self._uc.ctl_set_cpu_model(arm.UC_CPU_ARM_MAX)  # ARMv8-A AArch32 with VFP/NEON (as a Cortex-A32)
        ram = _round_up(image.end, PAGE) + STACK_BYTES
        self._stack_top = ram - 16
        self._uc.mem_map(0, ram)
        for address, data, _ in image.segments:
            self._uc.mem_write(address, data)  # the rest of each segment (.bss) is already zero
        self._uc.reg_write(arm.UC_ARM_REG_C1_C0_2, self._uc.reg_read(arm.UC_ARM_REG_C1_C0_2) | CPACR_CP10_CP11_FULL)
        self._uc.reg_write(arm.UC_ARM_REG_FPEXC, FPEXC_EN)
        self.blocks = BlockCounter(self._uc, native)
        self.counter = self.blocks.kind

    def executed_blocks(self) -> dict[tuple[int, int], int]:
        """The last call's executed blocks: ``{(address, size in bytes): times run}``."""
        return self.blocks.executed_blocks()

    def executed_code(self) -> list[tuple[bytes, int]]:
        """The last call's executed blocks as ``(code bytes, times run)``, what a cycle model reads."""
        return self.blocks.executed_code()

    def call(self, symbol: str, r0: int = 0) -> tuple[int, int]:
        """Run ``symbol(r0)`` to its return; returns ``(r0 after the call, instructions executed)``."""
        halt = self.image.symbols["dsl_bm_halt"]
        self._uc.reg_write(arm.UC_ARM_REG_SP, self._stack_top)
        self._uc.reg_write(arm.UC_ARM_REG_LR, halt)
        self._uc.reg_write(arm.UC_ARM_REG_R0, r0 & 0xFFFFFFFF)
        self.blocks.reset()
        try:
            self._uc.emu_start(self.image.symbols[symbol], halt, timeout=int(self.timeout_s * 1e6))
        except UcError as err:
            pc = self._uc.reg_read(arm.UC_ARM_REG_PC)
            raise CExportError(f"emulated {symbol} faulted at pc=0x{pc:08x}: {err}") from err
        if self._uc.reg_read(arm.UC_ARM_REG_PC) != halt:
            raise CExportError(f"emulated {symbol} did not return within {self.timeout_s:g} s")
        result = self._uc.reg_read(arm.UC_ARM_REG_R0)
        block_bytes = sum(size * n for (_, size), n in self.executed_blocks().items())
        if self.cycle_model is not None:
            self.last_cycles = self.cycle_model.estimate(self.executed_code()).cycles
        return result - (1 << 32) if result & 0x80000000 else result, block_bytes // ARM_INSTRUCTION_BYTES

    def init(self) -> int:
        """``dsl_init``; returns the instructions it took."""
        return self.call("dsl_bm_init")[1]

    def segment(self, inputs: np.ndarray, force: int) -> EmulatedSegment:
        """``dsl_process_segment`` on ``inputs`` (``in_floats`` float32) with ``force`` (0 auto, 1 full, 2 light)."""
        data = np.ascontiguousarray(inputs, dtype="<f4").reshape(-1)
        if data.size != self.in_floats:
            raise CExportError(f"a segment is {self.in_floats} floats, got {data.size}")
        self._uc.mem_write(self.image.symbols["dsl_io_in"], data.tobytes())
        path, instructions = self.call("dsl_bm_segment", force)
        if path < 0:
            raise CExportError(f"force {force} names a path the emulated model lacks")
        n_out = self.out_shape[0] * self.out_shape[1]
        out = np.frombuffer(bytes(self._uc.mem_read(self.image.symbols["dsl_io_out"], 4 * n_out)), "<f4")
        predicted = np.frombuffer(bytes(self._uc.mem_read(self.image.symbols["dsl_io_predicted"], 4)), "<f4")[0]
        return EmulatedSegment(path, float(predicted), out.reshape(self.out_shape).copy(), instructions,
                               self.last_cycles if self.cycle_model is not None else None)


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
