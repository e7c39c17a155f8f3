"""The multi-fidelity schedule a search config holds (``SearchConfig.fidelity``); ``search.fidelity`` runs it."""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from dslnas.spaces.candidate import Frozen, PosInt


class FidelityKind(str, enum.Enum):
    """``full``: every candidate gets the whole fine-tune; ``sh``: Pareto successive halving on its steps."""

    FULL = "full"
    SH = "sh"


class LowRungEval(str, enum.Enum):
    """How a rung below the last is scored. ``full``: like the last (every evaluation clip, the space's whole
    threshold sweep); ``scaled``: on a share of each class's evaluation clips equal to the rung's share of the
    full steps (at least ``low_rung_min_clips`` a class) and ``low_rung_sweep_points`` thresholds
    (``search.fidelity_eval``), so a cheap rung is also cheap to score."""

    FULL = "full"
    SCALED = "scaled"


LOW_RUNG_DEFAULTS = {"low_rung_eval": LowRungEval.FULL, "low_rung_min_clips": 2, "low_rung_sweep_points": 5}


class FidelityConfig(Frozen):
    """Successive halving on fine-tune steps. ``rungs_steps``: strictly increasing, the last is the space's
    ``finetune.steps`` (checked by ``SearchConfig``); ``eta``: a rung keeps ``1/eta`` of its members;
    ``bracket_size``: candidates entering a bracket's first rung (default ``eta ** (rungs - 1)``: one finalist);
    ``low_rung_*``: how rungs below the last are scored (:class:`LowRungEval`; default: as the last). The
    ``low_rung_*`` fields are left out of the dump at their defaults, so a schedule stored before they
    existed still matches."""

    rungs_steps: tuple[PosInt, ...]
    eta: Annotated[int, Field(ge=2)] = 3
    bracket_size: PosInt | None = None
    low_rung_eval: LowRungEval = LowRungEval.FULL
    low_rung_min_clips: PosInt = 2
    low_rung_sweep_points: Annotated[int, Field(ge=2)] = 5

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict:
        data = handler(self)
        return {k: v for k, v in data.items() if k not in LOW_RUNG_DEFAULTS or getattr(self, k) != LOW_RUNG_DEFAULTS[k]}

    @model_validator(mode="after")
    def _check(self) -> "FidelityConfig":
        steps = self.rungs_steps
        if len(steps) < 2:
            raise ValueError(f"fidelity.rungs_steps needs at least 2 rungs, got {list(steps)}")
        if any(b <= a for a, b in zip(steps, steps[1:])):
            raise ValueError(f"fidelity.rungs_steps must increase strictly, got {list(steps)}")
        return self

    @property
    def full_steps(self) -> int:
        return self.rungs_steps[-1]

    @property
    def candidates_per_bracket(self) -> int:
        return self.bracket_size or self.eta ** (len(self.rungs_steps) - 1)

    def kept(self, members: int) -> int:
        """How many of a rung's ``members`` go on to the next rung: ``members // eta``, at least 1."""
        return max(1, members // self.eta)

    @property
    def finalists_per_bracket(self) -> int:
        n = self.candidates_per_bracket
        for _ in self.rungs_steps[1:]:
            n = self.kept(n)
        return n


def default_rungs(full_steps: int, eta: int = 3, rungs: int = 3) -> tuple[int, ...]:
    """``full_steps / eta**k`` for k = rungs-1 .. 0 (rounded, at least 1, repeats dropped)."""
    steps = [max(1, round(full_steps / eta ** k)) for k in range(rungs - 1, -1, -1)]
    return tuple(dict.fromkeys(steps))
