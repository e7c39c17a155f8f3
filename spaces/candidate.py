"""The typed configs every part of dslnas shares.

``CandidateConfig`` is the object a search trial samples, the one ``trainers`` builds a codec from, the
one ``hw_models`` prices and the one ``export`` writes; how it is trained is ``spaces.run_config``. All
models are frozen and reject unknown keys; values are range-checked on construction.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator


def _refuse_bool(value: Any) -> Any:
    """``true`` is not 1: a YAML boolean where an integer is expected is an error, not a silent 1."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got a boolean ({str(value).lower()})")
    return value


PosInt = Annotated[int, BeforeValidator(_refuse_bool), Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
# Configs whose floats feed a computation reject inf/nan (``.inf`` in YAML) with an error naming the key.
FINITE = ConfigDict(allow_inf_nan=False)


class Frozen(BaseModel):
    """Base for all configs: immutable, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EncoderArch(Frozen):
    """SoundStream-style causal encoder: stem conv, strided blocks, projection to the embedding.

    Block ``i`` runs ``len(residual_dilations)`` residual units at its input width, then a strided conv
    (kernel ``2 * stride``) to ``block_channels[i]``. Input ``[B, 1, T]`` -> embedding
    ``[B, embedding_dim, T / prod(block_strides)]``.
    """

    sample_rate_hz: PosInt = 16_000
    stem_channels: PosInt = 4
    stem_kernel: PosInt = 7
    block_channels: tuple[PosInt, ...] = (8, 16, 32, 96)
    block_strides: tuple[PosInt, ...] = (2, 4, 5, 8)
    residual_kernel: PosInt = 5
    residual_dilations: tuple[PosInt, ...] = (1,)
    embedding_dim: PosInt = 32
    final_kernel: PosInt = 3

    model_config = FINITE

    @model_validator(mode="after")
    def _check(self) -> "EncoderArch":
        if not self.block_channels:
            raise ValueError("block_channels must name at least one block")
        if len(self.block_channels) != len(self.block_strides):
            raise ValueError(
                f"block_channels has {len(self.block_channels)} entries but block_strides has "
                f"{len(self.block_strides)}"
            )
        if not self.residual_dilations:
            raise ValueError("residual_dilations must not be empty")
        return self

    @property
    def n_blocks(self) -> int:
        return len(self.block_channels)

    @property
    def hop_samples(self) -> int:
        """Input samples per embedding frame."""
        hop = 1
        for stride in self.block_strides:
            hop *= stride
        return hop

    def channels_after(self, depth: int) -> int:
        """Channel count after ``depth`` blocks (``depth=0``: the stem's output)."""
        return self.stem_channels if depth == 0 else self.block_channels[depth - 1]


class StatePolicy(str, enum.Enum):
    """What a streaming tail that sat idle has as causal history when it runs again.

    ``reset``: zero history. ``stale``: the history it had when it last ran. ``warm``: it first re-runs,
    from zero history, over its receptive field of buffered masked base frames, so its output equals the
    offline tail's (at the cost of those replayed frames).
    """

    RESET = "reset"
    STALE = "stale"
    WARM = "warm"


class DSLConfig(Frozen):
    """Where the Dynamic Switch Layer sits and how it is shaped, trained and routed.

    ``switch_depth`` d: the base network is the stem and blocks ``[0, d)``; the DSL follows block d-1.
    ``light_widths``: the lightweight tail's widths, one entry for the width its first residual units run
    at (a 1x1 entry conv adapts the base channels when it differs) and one per remaining block output,
    so ``len == n_blocks - switch_depth + 1``.
    ``threshold``: a segment whose predicted discrepancy is below it takes the light path; 0 = full only.
    ``state_policy``: the causal history an idle tail resumes with in the streaming runtime.
    ``switch_hidden``: the switch head's width. ``light_residual_units``: residual units per light-tail block
    (the first ones of the encoder's ``residual_dilations``; 0: only the strided conv); ``light_kernel``: the
    light tail's residual kernel. None: as the full tail (the encoder's).
    """

    switch_depth: PosInt = 3
    light_widths: tuple[PosInt, ...] = (9, 10)
    switch_hidden: PosInt = 8
    light_residual_units: Annotated[int, BeforeValidator(_refuse_bool), Field(ge=0)] | None = None
    light_kernel: PosInt | None = None
    alpha: NonNegFloat = 1e-4  # next to no zeros with the identity-start mask (bench/alpha_sparsity.py)
    beta: NonNegFloat = 1.0
    threshold: NonNegFloat = 0.3
    segment_frames: PosInt = 10
    state_policy: StatePolicy = StatePolicy.WARM

    model_config = FINITE


class QuantizerConfig(Frozen):
    """Residual VQ with EMA codebooks, k-means init, dead-code restart and quantizer dropout."""

    num_quantizers: PosInt = 4
    codebook_size: PosInt = 256
    ema_decay: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    dead_code_threshold: NonNegFloat = 2.0
    kmeans_iters: Annotated[int, Field(ge=0)] = 10
    quantizer_dropout: bool = True


class DecoderUpsample(str, enum.Enum):
    """How a decoder block raises the frame rate by its stride.

    ``transposed``: a strided transposed conv (kernel ``2 * stride``), SoundStream's choice; it can leave
    imaging tones at multiples of the input frame rate. ``repeat``: repeat each frame ``stride`` times
    (nearest-neighbour hold, whose response is zero at every multiple of the input frame rate), then a
    causal conv (kernel ``2 * stride``); no tones by construction. The decoder runs off the device, so
    neither choice changes the cost model.
    """

    TRANSPOSED = "transposed"
    REPEAT = "repeat"


CANDIDATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
"""A candidate name: it names export folders and is the command runner's ``{name}`` (which a board's shell
reads, ``runners.command.SHELL_INERT``), so 1-64 letters, digits and ``_.+-``, starting with a letter or digit.
C export and the report escape whatever a name holds; this rule keeps names usable everywhere else."""
STORED = {"stored": True}
"""Validation context for a candidate read back from storage: its name is kept as written (versions before the
rule accepted any name, and the report escapes it)."""


class CandidateConfig(Frozen):
    """One point of a search: the encoder, its DSL, and the quantizer/decoder around it.

    ``name`` follows :data:`CANDIDATE_NAME`. ``decoder_channel_mult`` scales the decoder's widths over the
    encoder's; ``decoder_upsample`` picks its upsampling (:class:`DecoderUpsample`). Neither runs on the device.
    """

    name: str = "candidate"
    encoder: EncoderArch = EncoderArch()
    dsl: DSLConfig = DSLConfig()
    quantizer: QuantizerConfig = QuantizerConfig()
    decoder_channel_mult: Annotated[float, Field(gt=0.0)] = 1.0
    decoder_upsample: DecoderUpsample = DecoderUpsample.TRANSPOSED

    model_config = FINITE

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str, info: ValidationInfo) -> str:
        if CANDIDATE_NAME.fullmatch(name) or (info.context or {}).get("stored"):
            return name
        raise ValueError(f"{name!r} is not a candidate name: use 1-64 letters, digits and '_.+-', starting with a "
                         "letter or digit (it names export folders and the command runner's {name})")

    @model_validator(mode="after")
    def _check(self) -> "CandidateConfig":
        n_blocks = self.encoder.n_blocks
        depth = self.dsl.switch_depth
        if not 1 <= depth <= n_blocks:
            raise ValueError(f"dsl.switch_depth must be in [1, {n_blocks}], got {depth}")
        expected = n_blocks - depth + 1
        if len(self.dsl.light_widths) != expected:
            raise ValueError(
                f"dsl.light_widths needs {expected} entries for switch_depth {depth} "
                f"of {n_blocks} blocks, got {len(self.dsl.light_widths)}"
            )
        for i, (light, full) in enumerate(zip(self.dsl.light_widths, self.full_tail_widths)):
            if light > full:
                raise ValueError(
                    f"dsl.light_widths[{i}] is {light}, wider than the full path's {full} there "
                    f"(a light path must not be wider than the full one)"
                )
        units = self.dsl.light_residual_units
        if units is not None and units > len(self.encoder.residual_dilations):
            raise ValueError(f"dsl.light_residual_units is {units}, more than the encoder's "
                             f"{len(self.encoder.residual_dilations)} residual_dilations (a light unit takes its dilation)")
        return self

    @property
    def light_dilations(self) -> tuple[int, ...]:
        """The light tail's residual dilations per block: the first ``dsl.light_residual_units`` of the encoder's."""
        units = self.dsl.light_residual_units
        dilations = self.encoder.residual_dilations
        return dilations if units is None else dilations[:units]

    @property
    def light_kernel(self) -> int:
        """The light tail's residual kernel (the encoder's unless ``dsl.light_kernel`` sets one)."""
        return self.dsl.light_kernel or self.encoder.residual_kernel

    @property
    def light_tail_as_full(self) -> bool:
        """Whether the light tail has the full tail's layer structure (only its widths differ)."""
        return (self.light_dilations == self.encoder.residual_dilations
                and self.light_kernel == self.encoder.residual_kernel)

    @property
    def full_tail_widths(self) -> tuple[int, ...]:
        """The full path's widths at the positions of ``dsl.light_widths``: the base output, then each tail block's."""
        depth = self.dsl.switch_depth
        return (self.encoder.channels_after(depth),) + tuple(self.encoder.block_channels[depth:])

    @property
    def segment_samples(self) -> int:
        """Input samples per routing segment."""
        return self.dsl.segment_frames * self.encoder.hop_samples

    def with_dsl(self, **changes: Any) -> "CandidateConfig":
        """A copy with DSL fields replaced (validated)."""
        dsl = DSLConfig.model_validate({**self.dsl.model_dump(), **changes})
        # the name is this candidate's own (possibly one read back from storage): kept as it is
        return CandidateConfig.model_validate({**self.model_dump(), "dsl": dsl.model_dump()}, context=STORED)
