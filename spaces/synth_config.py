"""``data.synth`` of a run config: the natural-corpus options of ``dslnas data synth`` for ``data.kind: synth``.

Each field is the ``data synth`` option of the same name (docs/natural-corpus.md); left out, a field keeps the
default recipe's (the corpus the shipped base heard). Types and ranges are checked here, on load; voice, band
and scene names are checked against what is installed when the corpus is made (``trainers.data.datasets``),
before any audio is spoken.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field, field_validator

from dslnas.spaces.candidate import Frozen

DbfsSpan = tuple[Annotated[float, Field(ge=-120.0, le=0.0)], Annotated[float, Field(ge=-120.0, le=0.0)]]
"""``(low, high)`` in dBFS, low <= high."""


class SynthOptions(Frozen):
    """What ``data.kind: synth`` adds to the default corpus recipe.

    ``voices``: voice ids (``dslnas data synth --voices list``; Piper voices only when named), default every
    installed Debian voice; ``speaker_variants``: talkers per voice; ``rooms`` / ``microphones``: the simulated
    room and microphone; ``bands``: channels drawn per clip (full, telephone, wideband, resampled);
    ``level_dbfs``: speech RMS span; ``floor_dbfs``: the recorder's noise floor span, or ``none``;
    ``scenes``: a scene set (default, ambience, all) or scene ids.
    """

    voices: tuple[str, ...] | None = None
    speaker_variants: Annotated[int, Field(ge=1)] = 1
    rooms: bool = False
    microphones: bool = False
    bands: tuple[str, ...] | None = None
    level_dbfs: DbfsSpan | None = None
    floor_dbfs: DbfsSpan | Literal["none"] | None = None
    scenes: tuple[str, ...] | None = None

    @field_validator("voices", "bands", "scenes")
    @classmethod
    def _not_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("give at least one name, or leave the key out for the default")
        return value

    @field_validator("level_dbfs", "floor_dbfs")
    @classmethod
    def _ordered(cls, value: object) -> object:
        if isinstance(value, tuple) and value[0] > value[1]:
            raise ValueError(f"LOW must not exceed HIGH, got {list(value)}")
        return value

    def is_default(self) -> bool:
        """True when nothing is added to the default recipe."""
        return self == SynthOptions()

    def fingerprint(self) -> str:
        """8 hex digits naming these options (a cached corpus is reused only under the same options)."""
        return hashlib.sha1(self.model_dump_json().encode()).hexdigest()[:8]
