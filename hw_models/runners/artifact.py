"""What a conversion produces and a runner measures: one exported file of one part of an encoder.

Torch-free on purpose: runners, replays and the CLI's option types import this, not the converter
(``hw_models.runners.convert``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from dslnas.spaces.errors import UserError


class ArtifactFormat(str, Enum):
    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"

    @property
    def suffix(self) -> str:
        return ".onnx" if self is ArtifactFormat.ONNX else ".pt"


class ExportPart(str, Enum):
    FULL = "full"
    LIGHT = "light"
    BASE = "base"
    SWITCH = "switch"
    FULL_TAIL = "full_tail"
    LIGHT_TAIL = "light_tail"


@dataclass(frozen=True)
class Artifact:
    """One exported file. ``name``: ``<candidate>-<part>`` (the same for every format of that part)."""

    name: str
    path: Path
    fmt: ArtifactFormat
    input_shape: tuple[int, ...]

    @property
    def key(self) -> str:
        """What measurements and replay CSVs call this artifact: ``<name>:<format>``, e.g. ``paper-full:onnx``."""
        return f"{self.name}:{self.fmt.value}"


class ExportError(UserError):
    """An artifact that could not be written, or that does not compute what the eager module does."""
