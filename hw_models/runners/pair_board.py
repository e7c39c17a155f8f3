"""An emulated bare-metal Cortex-M33 (Unicorn's ``cortex-m33`` model, Thumb-2, FPv5 single precision) that runs
the front image of a split export (``c_export.pair``), and the memory access both pair cores need.

Given a :class:`~dslnas.hw_models.runners.cycle_model.CycleModel` (``cycle_model.CORTEX_M33``), the core
records its executed blocks (``unicorn_board.BlockCounter``, as the A32 board does) and each call estimates
cycles from them on LLVM's scheduling model, with the executed instructions beside them (Thumb-2 mixes 2-
and 4-byte instructions, so they are counted from the disassembled blocks, not from block sizes). Without
one (a CPI proxy) a per-instruction hook counts instructions only: a four-line C function built once per
process with the host gcc and handed to Unicorn's C API (a Python per-instruction hook is too slow). Not
modelled either way: flash wait states, caches, bus contention (``runners.pair`` states the stand-ins).
"""

from __future__ import annotations

import ctypes
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from elftools.elf.elffile import ELFFile
from unicorn import UC_ARCH_ARM, UC_HOOK_CODE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc, UcError
from unicorn import arm_const as arm

from dslnas.hw_models.c_export.program import CExportError

if TYPE_CHECKING:
    from dslnas.hw_models.runners.cycle_model import CycleModel

STACK_BYTES = 1 << 18
PAGE = 0x1000
HARNESS_SYMBOLS = ("dsl_io_in", "dsl_io_out", "dsl_io_predicted", "dsl_bm_init", "dsl_bm_halt", "dsl_bm_segment")
FRONT_SYMBOLS = (*HARNESS_SYMBOLS, "dsl_pair_front", "dsl_pair_light", "dsl_pair_send", "dsl_pair_mailbox",
                 "dsl_pair_mailbox_bytes")
INSTRUCTION_COUNTER_C = """#include <stdint.h>
void dsl_count_instruction(void *uc, uint64_t address, uint32_t size, void *total)
{
    (void)uc;
    (void)address;
    (void)size;
    ++*(uint64_t *)total;
}
"""


@functools.cache
def native_instruction_counter() -> ctypes.CDLL:
    """The compiled per-instruction counter (built once per process); CExportError without a host gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise CExportError("the emulated Cortex-M33 counts instructions with a hook built by the host gcc: gcc not found")
    from dslnas.hw_models.runners.unicorn_board import build_hook_library

    lib = build_hook_library(gcc, INSTRUCTION_COUNTER_C, "dslnas-m33-counter-")
    if isinstance(lib, str):
        raise CExportError(f"building the instruction counter failed: {lib}")
    return lib


@dataclass(frozen=True)
class ThumbImage:
    """A loaded bare-metal Thumb ELF: loadable segments ``(address, bytes, memory size)`` and its symbols."""

    path: Path
    segments: tuple[tuple[int, bytes, int], ...]
    symbols: dict[str, int]
    text_bytes: int

    @property
    def end(self) -> int:
        return max(addr + size for addr, _, size in self.segments)


def load_thumb_image(path: str | Path, required: tuple[str, ...] = FRONT_SYMBOLS) -> ThumbImage:
    """Read a Thumb image (default: the pair's front image); a missing harness symbol is a CExportError."""
    with open(path, "rb") as handle:
        elf = ELFFile(handle)
        segments = tuple((s["p_vaddr"], s.data(), s["p_memsz"]) for s in elf.iter_segments() if s["p_type"] == "PT_LOAD")
        table = elf.get_section_by_name(".symtab")
        symbols = {sym.name: sym["st_value"] for sym in table.iter_symbols() if sym.name} if table else {}
        text = elf.get_section_by_name(".text")
        text_bytes = text["sh_size"] if text else 0
    missing = [name for name in required if name not in symbols]
    if missing:
        raise CExportError(f"{path} lacks the front harness symbols {missing}")
    return ThumbImage(Path(path), segments, symbols, text_bytes)


class EmulatedM33:
    """A fresh Cortex-M33 with the front image loaded; ``call(symbol, r0)`` runs a function to its return.

    ``cycle_model``: estimate each call's cycles (``last_cycles``) from its executed blocks; None counts
    instructions only (``last_cycles`` stays None)."""

    def __init__(self, image: ThumbImage, timeout_s: float = 600.0, cycle_model: "CycleModel | None" = None) -> None:
        self.image, self.timeout_s = image, timeout_s
        self.cycle_model, self.last_cycles = cycle_model, None
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(arm.UC_CPU_ARM_CORTEX_M33)
        ram = -(-image.end // PAGE) * PAGE + STACK_BYTES
        self._stack_top = ram - 16
        self.uc.mem_map(0, ram)
        for address, data, _ in image.segments:
            self.uc.mem_write(address, data)
        self._count = ctypes.c_uint64(0)
        if cycle_model is not None:
            from dslnas.hw_models.runners.unicorn_board import BlockCounter

            self.blocks = BlockCounter(self.uc)
        else:
            self.blocks = None
            self._hook_instructions()

    def _hook_instructions(self) -> None:
        lib = native_instruction_counter()
        from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), UC_HOOK_CODE,
                                   ctypes.cast(lib.dsl_count_instruction, ctypes.c_void_p),
                                   ctypes.c_void_p(ctypes.addressof(self._count)), ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status != 0:
            raise CExportError(f"Unicorn refused the instruction hook (status {status})")
        self._native = (lib, handle)  # keep the library loaded while the hook can fire

    def call(self, symbol: str, r0: int = 0) -> tuple[int, int]:
        """Run ``symbol(r0)`` to its return; returns ``(r0 after the call as a signed int, instructions)``
        and, with a cycle model, sets ``last_cycles``."""
        halt = self.image.symbols["dsl_bm_halt"] & ~1
        self.uc.reg_write(arm.UC_ARM_REG_SP, self._stack_top)
        self.uc.reg_write(arm.UC_ARM_REG_LR, halt | 1)
        self.uc.reg_write(arm.UC_ARM_REG_R0, r0 & 0xFFFFFFFF)
        self._count.value = 0
        if self.blocks is not None:
            self.blocks.reset()
        try:
            self.uc.emu_start(self.image.symbols[symbol] | 1, halt, timeout=int(self.timeout_s * 1e6))
        except UcError as err:
            pc = self.uc.reg_read(arm.UC_ARM_REG_PC)
            raise CExportError(f"emulated M33 {symbol} faulted at pc=0x{pc:08x}: {err}") from err
        if self.uc.reg_read(arm.UC_ARM_REG_PC) & ~1 != halt:
            raise CExportError(f"emulated M33 {symbol} did not return within {self.timeout_s:g} s")
        result = self.uc.reg_read(arm.UC_ARM_REG_R0)
        instructions = self._count.value
        if self.cycle_model is not None:
            estimate = self.cycle_model.estimate(self.blocks.executed_code())
            instructions, self.last_cycles = estimate.instructions, estimate.cycles
        return result - (1 << 32) if result & 0x80000000 else result, instructions


def read_floats(uc: Uc, address: int, count: int) -> np.ndarray:
    """``count`` little-endian float32 values at ``address`` of an emulated core's memory."""
    return np.frombuffer(bytes(uc.mem_read(address, 4 * count)), "<f4").copy()


def read_u32(uc: Uc, address: int) -> int:
    return int.from_bytes(bytes(uc.mem_read(address, 4)), "little")
