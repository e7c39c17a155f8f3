"""Cycles from LLVM's scheduling model (``hw_models/runners/cycle_model.py``): per block, weighted by counts.

Hand-assembled ARM blocks go through llvm-mc and llvm-mca as the emulated board's executed blocks do: a
chain of dependent divides costs more cycles than instructions, independent adds fewer cycles than a chain,
totals are the count-weighted sum, a call is timed as a branch, and unmodelled instructions are counted.
"""

from __future__ import annotations

import struct
import subprocess

import pytest

from dslnas.hw_models.runners.cycle_model import (
    CORTEX_A32, CORTEX_M33, UNMODELLED_CYCLES, CycleModel, CycleModelError, MachineModel, as_branch, missing_tools, signature,
)

pytestmark = pytest.mark.skipif(missing_tools() is not None, reason=f"cycle estimates need {missing_tools()}")


def _assemble(lines: list[str], triple: str = "armv8a", mattr: str = "+neon,+fp-armv8") -> bytes:
    """Machine code of ``lines`` (llvm-mc, the same LLVM the model reads back)."""
    done = subprocess.run(["llvm-mc", f"-triple={triple}", f"-mattr={mattr}", "-show-encoding"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, check=True)
    code = b""
    for line in done.stdout.splitlines():
        if "encoding: [" in line:
            code += bytes(int(b, 16) for b in line.split("encoding: [")[1].rstrip("]").split(","))
    return code


DIVIDES = _assemble(["vdiv.f32 s0, s0, s1", "vdiv.f32 s0, s0, s1", "vdiv.f32 s0, s0, s1", "vdiv.f32 s0, s0, s1"])
INDEPENDENT_ADDS = _assemble(["add r0, r0, #1", "add r1, r1, #1", "add r2, r2, #1", "add r3, r3, #1"])
CHAINED_FMAS = _assemble(["vmla.f32 s0, s1, s2", "vmla.f32 s0, s1, s2", "vmla.f32 s0, s1, s2", "vmla.f32 s0, s1, s2"])


def test_a_divide_chain_costs_more_cycles_than_instructions() -> None:
    model = CycleModel(CORTEX_A32)
    divides, adds, fmas = model.blocks([DIVIDES, INDEPENDENT_ADDS, CHAINED_FMAS])
    assert divides.instructions == adds.instructions == fmas.instructions == 4
    assert divides.cycles > 4 * 4 and divides.unmodelled == 0     # long-latency, dependent: many cycles each
    assert adds.cycles <= 4                                          # dual issue, no dependence: <= 1 per instruction
    assert fmas.cycles > 4 * 4 and fmas.cycles > adds.cycles  # an accumulator chain waits on each result


def test_totals_are_counts_times_block_cycles_and_cached() -> None:
    model = CycleModel(CORTEX_A32)
    one = {code: model.blocks([code])[0] for code in (DIVIDES, INDEPENDENT_ADDS)}
    estimate = model.estimate([(DIVIDES, 3), (INDEPENDENT_ADDS, 1000), (CHAINED_FMAS, 0)])
    assert estimate.cycles == pytest.approx(3 * one[DIVIDES].cycles + 1000 * one[INDEPENDENT_ADDS].cycles)
    assert estimate.instructions == 4 * 1003 and estimate.blocks == 2 and estimate.unmodelled_instructions == 0
    assert estimate.cycles_per_instruction == pytest.approx(estimate.cycles / estimate.instructions)
    model.model = MachineModel("armv8a", "no-such-cpu")  # a cached block never goes back to llvm-mca
    assert model.estimate([(DIVIDES, 3), (INDEPENDENT_ADDS, 1000)]).cycles == estimate.cycles


def test_calls_time_as_branches_and_unmodelled_instructions_are_counted() -> None:
    assert as_branch("bl\t#-1600") == "b\t#-1600" and as_branch("blxne\tr3") == "bxne\tr3"
    assert as_branch("blt\t#8") == "blt\t#8" and as_branch("bls\t#8") == "bls\t#8"
    assert signature("vmov.f32\ts15, s0") == signature("vmov.f32\ts12, s14") != signature("vmov.f32\ts12, #1.0")
    model = CycleModel(CORTEX_A32)
    call = model.blocks([_assemble(["add r0, r0, #1", "bl #-1600"])])[0]
    assert call.cycles < 10  # llvm-mca alone assumes 100 cycles for any call
    moves = model.blocks([_assemble(["vmov.f32 s1, s0", "vadd.f32 s2, s2, s3"])])[0]
    assert moves.unmodelled == 1 and moves.cycles >= UNMODELLED_CYCLES  # LLVM 14's R52 model lacks vmov.f32
    alone = model.blocks([_assemble(["vmov.f32 s3, s4", "vmov.f32 s5, s6"])])[0]  # nothing left for llvm-mca
    assert alone == type(alone)(2, 2 * UNMODELLED_CYCLES, 2)


def test_thumb2_blocks_split_by_their_encodings() -> None:
    thumb = _assemble(["vmla.f32 s0, s1, s2", "adds r0, #1", "ldr r1, [r2, #4]", "cmp r0, r3", "bne #-20"],
                      CORTEX_M33.triple, CORTEX_M33.mattr)
    assert len(thumb) == 12  # 4 + 2 + 2 + 2 + 2 bytes
    estimate = CycleModel(CORTEX_M33).estimate([(thumb, 10), (thumb[4:], 5)])
    assert estimate.instructions == 10 * 5 + 5 * 4 and estimate.cycles > 0 and estimate.blocks == 2


def test_the_m33_stands_on_the_cortex_m4_model() -> None:
    """LLVM 14 gives -mcpu=cortex-m33 the Cortex-M4's scheduling model (docs/cost-model.md says so): the same
    cycles as cortex-m4, and not the generic-ARM timing of a CPU without a model."""
    code = _assemble(["vdiv.f32 s0, s0, s1", "vmla.f32 s2, s0, s1", "ldr r1, [r2, #4]", "adds r0, #1"],
                     CORTEX_M33.triple, CORTEX_M33.mattr)
    m4 = MachineModel(CORTEX_M33.triple, "cortex-m4", CORTEX_M33.mattr)
    m33, on_m4 = (CycleModel(model).estimate([(code, 1)]).cycles for model in (CORTEX_M33, m4))
    assert m33 == on_m4 and m33 > 4  # the divide's latency is seen: more cycles than instructions


def test_bad_code_and_bad_cpus_are_errors() -> None:
    with pytest.raises(CycleModelError, match="no-such-cpu"):
        CycleModel(MachineModel("armv8a", "no-such-cpu")).blocks([INDEPENDENT_ADDS])
    with pytest.raises(CycleModelError, match="decoded"):
        CycleModel(CORTEX_A32).blocks([struct.pack("<I", 0xF7F0A000)])  # permanently undefined
