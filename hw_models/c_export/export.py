"""``export_c``: a built encoder (or one exported part of it) as a self-contained C99 source and header.

    codec / encoder -> Program (typed layers, ``program``) -> dsl_model.h + dsl_model.c (``emit_model``)

The state policy is what a tail that did not run on the previous segment has as history when it runs:
``reset`` (zeros), ``stale`` (as it left it) or ``warm`` (zeroed, then the last ``DSL_WARM_FRAMES`` masked
base frames replayed through it, so its output equals the offline tail's). It comes from
``candidate.dsl.state_policy`` when the candidate has one, else from the ``state_policy`` argument (default
``warm``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from torch import nn

from dslnas.hw_models.c_export.emit_model import HEADER_NAME, POLICY_CODES, SOURCE_NAME, generate
from dslnas.hw_models.c_export.program import (
    PATH_FULL, PATH_LIGHT, CExportError, Program, lower_chain, lower_mask, lower_switch,
)
from dslnas.hw_models.counts import Part
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import unknown_name
from dslnas.trainers.encoder import DSLEncoder

STATE_POLICIES = tuple(POLICY_CODES)
DEFAULT_STATE_POLICY = "warm"


@dataclass(frozen=True)
class CExportInfo:
    """What :func:`export_c` wrote. Sizes in bytes; ``flash_bytes`` counts weights only (code size is the
    compiler's, see an emulated board's image); ``ram_bytes`` = persistent state + shared scratch."""

    name: str
    source_path: Path
    header_path: Path
    state_policy: str
    threshold: float
    skip_zero_inputs: bool
    path_ids: tuple[int, ...]
    in_channels: int
    in_frames: int
    out_channels: int
    out_frames: int
    state_bytes: int
    scratch_bytes: int
    weight_bytes: int
    warm_frames: int
    sample_rate_hz: int | None = None  # a whole encoder's audio rate (None for an exported part)

    @property
    def ram_bytes(self) -> int:
        return self.state_bytes + self.scratch_bytes

    @property
    def flash_bytes(self) -> int:
        return self.weight_bytes

    @property
    def in_floats(self) -> int:
        return self.in_channels * self.in_frames

    @property
    def out_floats(self) -> int:
        return self.out_channels * self.out_frames


def export_c(
    model: nn.Module,
    candidate: CandidateConfig | None,
    out_dir: str | Path,
    threshold: float | None = None,
    *,
    state_policy: str | Enum | None = None,
    skip_zero_inputs: bool = False,
    base_chunk_frames: int | None = None,
) -> CExportInfo:
    """Write ``dsl_model.h`` / ``dsl_model.c`` for a ``DSLCodec`` or ``DSLEncoder`` under ``out_dir``.

    ``candidate``: the model's candidate (None: ``encoder.candidate``); its threshold routes unless
    ``threshold`` is given. ``skip_zero_inputs``: the first conv of each tail accumulates over non-zero
    inputs only (same output, fewer instructions when the mask's output is sparse). ``base_chunk_frames``:
    base output frames computed per inner step (sizes the scratch; see ``emit_model.generate``).
    """
    encoder = encoder_of(model)
    candidate = encoder.candidate if candidate is None else candidate
    _check_same_architecture(encoder.candidate, candidate)
    tau = candidate.dsl.threshold if threshold is None else float(threshold)
    policy = resolve_policy(state_policy, candidate)
    program = dataclasses.replace(program_of(encoder), name=candidate.name)  # the name the caller gave
    return export_program(program, out_dir, tau, policy, skip_zero_inputs, base_chunk_frames)


def export_program(program: Program, out_dir: str | Path, threshold: float, state_policy: str | Enum,
                   skip_zero_inputs: bool = False, base_chunk_frames: int | None = None) -> CExportInfo:
    """Write the C files of an already lowered :class:`Program` (what runners use for exported parts)."""
    if not math.isfinite(threshold) or threshold < 0:
        raise CExportError(f"threshold must be a finite number >= 0, got {threshold}")
    policy = resolve_policy(state_policy, None)
    model = generate(program, threshold, policy, skip_zero_inputs, base_chunk_frames)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header, source = out / HEADER_NAME, out / SOURCE_NAME
    header.write_text(model.header)
    source.write_text(model.source)
    return CExportInfo(
        program.name, source, header, policy, threshold, skip_zero_inputs, tuple(sorted(program.tails)),
        program.in_channels, program.in_frames, program.out_channels, program.out_frames,
        model.state_bytes, model.scratch_bytes, model.weight_bytes, model.warm_frames, program.sample_rate_hz,
    )


def program_of(encoder: DSLEncoder) -> Program:
    """The whole routed encoder: base, mask, switch, full tail (path 1) and light tail (path 2)."""
    arch, depth = encoder.candidate.encoder, encoder.candidate.dsl.switch_depth
    channels = arch.channels_after(depth)
    base = lower_chain(Part.BASE, encoder.base, 1)
    tails = {PATH_FULL: lower_chain(Part.FULL_TAIL, encoder.full_tail, channels),
             PATH_LIGHT: lower_chain(Part.LIGHT_TAIL, encoder.light_tail, channels)}
    return Program(encoder.candidate.name, 1, encoder.candidate.segment_samples, base,
                   lower_mask(encoder.mask), lower_switch(encoder.switch), tails, arch.sample_rate_hz)


def resolve_policy(policy: str | Enum | None, candidate: CandidateConfig | None) -> str:
    """The policy's string value: the argument, else ``candidate.dsl.state_policy``, else ``warm``."""
    if policy is None and candidate is not None:
        policy = getattr(candidate.dsl, "state_policy", None)
    value = DEFAULT_STATE_POLICY if policy is None else str(getattr(policy, "value", policy))
    if value not in STATE_POLICIES:
        raise unknown_name("state policy", value, list(STATE_POLICIES))
    return value


def encoder_of(model: nn.Module) -> DSLEncoder:
    encoder = getattr(model, "encoder", model)
    if not isinstance(encoder, DSLEncoder):
        raise TypeError(f"export_c needs a DSLCodec or DSLEncoder, got {type(model).__name__}")
    return encoder


def _check_same_architecture(built: CandidateConfig, given: CandidateConfig) -> None:
    def shape(c: CandidateConfig) -> tuple:
        d = c.dsl
        return c.encoder, d.switch_depth, d.light_widths, d.switch_hidden, d.segment_frames, c.light_dilations, c.light_kernel

    if shape(built) != shape(given):
        raise CExportError(f"candidate {given.name!r} does not describe the model's encoder (built from {built.name!r})")
