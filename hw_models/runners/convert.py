"""Export the paths and parts of a candidate's encoder as deployable artifacts (ONNX, TorchScript).

One artifact is one inference of one routing segment: the paths take ``[1, 1, segment_samples]`` audio;
the tails take the base network's output for one segment, ``[1, C_b, T_b]``. Parts
(see :class:`ExportPart`):

* ``full``  = base + mask + switch + full tail  -> (embedding ``[1, D, segment_frames]``, predicted ``[1, 1]``)
* ``light`` = base + mask + switch + light tail -> (embedding, predicted)
* ``base`` (stem and blocks before the switch), ``switch`` (mask + switch head), ``full_tail``, ``light_tail``:
  the pieces a calibration fits one by one (``full`` = base + switch + full_tail, in ops).

ONNX goes through torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``): the
torch.export-based one needs ``onnxscript``, which dslnas does not depend on. Every artifact is loaded back
with its runtime (onnxruntime / ``torch.jit.load``) and compared with the eager module before it is returned;
a mismatch is an :class:`ExportError`.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dslnas.hw_models.runners.local_worker import load_inference
from dslnas.spaces.candidate import CandidateConfig
from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat, ExportError, ExportPart
from dslnas.spaces.errors import unknown_name
from dslnas.trainers.codec import DSLCodec, build_codec
from dslnas.trainers.encoder import DSLEncoder

ONNX_OPSET = 17
MATCH_ATOL = 1e-4  # absolute tolerance of an artifact's outputs against the eager module (float32)


class RoutedPath(nn.Module):
    """Base + mask + switch + one tail: ``[B, 1, T] -> (embedding [B, D, T / hop], predicted [B, S])``.

    The switch output is returned so that exporters keep it (it runs on every segment, whichever path).
    """

    def __init__(self, base: nn.Module, mask: nn.Module, switch: nn.Module, tail: nn.Module) -> None:
        super().__init__()
        self.base, self.mask, self.switch, self.tail = base, mask, switch, tail

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        masked = self.mask(self.base(audio))
        return self.tail(masked), self.switch(masked)


class MaskedSwitch(nn.Module):
    """Mask + switch head: ``[B, C_b, T_b] -> [B, S]``."""

    def __init__(self, mask: nn.Module, switch: nn.Module) -> None:
        super().__init__()
        self.mask, self.switch = mask, switch

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.switch(self.mask(features))


def part_modules(encoder: DSLEncoder) -> dict[ExportPart, tuple[nn.Module, tuple[int, ...]]]:
    """Each part of ``encoder`` as an eval-mode module (sharing weights with a copy) and its input shape."""
    enc = copy.deepcopy(encoder).eval()
    candidate = enc.candidate
    audio_shape = (1, 1, candidate.segment_samples)
    base_shape = (1, candidate.encoder.channels_after(candidate.dsl.switch_depth), enc.base_frames_per_segment)
    return {
        ExportPart.FULL: (RoutedPath(enc.base, enc.mask, enc.switch, enc.full_tail).eval(), audio_shape),
        ExportPart.LIGHT: (RoutedPath(enc.base, enc.mask, enc.switch, enc.light_tail).eval(), audio_shape),
        ExportPart.BASE: (enc.base.eval(), audio_shape),
        ExportPart.SWITCH: (MaskedSwitch(enc.mask, enc.switch).eval(), base_shape),
        ExportPart.FULL_TAIL: (enc.full_tail.eval(), base_shape),
        ExportPart.LIGHT_TAIL: (enc.light_tail.eval(), base_shape),
    }


def export_paths(
    source: CandidateConfig | DSLCodec | DSLEncoder,
    out_dir: str | Path,
    formats: tuple[ArtifactFormat, ...] = (ArtifactFormat.ONNX, ArtifactFormat.TORCHSCRIPT),
    parts: tuple[ExportPart, ...] = tuple(ExportPart),
) -> list[Artifact]:
    """Write one artifact per part and format under ``out_dir``; each is checked against the eager module.

    ``source``: a candidate (exported with fresh weights: enough for latency and power) or a built/trained
    codec or encoder. Raises :class:`ExportError` when a file cannot be written or does not match.
    """
    encoder = _encoder_of(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    modules = part_modules(encoder)
    artifacts = []
    for part in (_named(ExportPart, "export part", p) for p in parts):
        module, shape = modules[part]
        name = f"{encoder.candidate.name}-{part.value}"
        for fmt in (_named(ArtifactFormat, "artifact format", f) for f in formats):
            artifact = Artifact(name, out / f"{_file_stem(name)}{fmt.suffix}", fmt, shape)
            _write(module, artifact)
            check_artifact(artifact, module)
            artifacts.append(artifact)
    return artifacts


def check_artifact(artifact: Artifact, module: nn.Module, atol: float = MATCH_ATOL) -> float:
    """Largest absolute difference of the artifact's outputs to ``module``'s on one random input.

    Raises :class:`ExportError` above ``atol`` or when the number or shapes of outputs differ.
    """
    x = np.random.default_rng(1).standard_normal(artifact.input_shape).astype(np.float32)
    with quiet_torch_export():
        run, _ = load_inference(str(artifact.path), artifact.fmt.value, threads=1)
    got = run(x)
    with torch.no_grad():
        eager = module(torch.from_numpy(x))
    want = [t.numpy() for t in (eager if isinstance(eager, tuple) else (eager,))]
    if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
        raise ExportError(f"artifact {artifact.key}: output shapes {[g.shape for g in got]} != eager {[w.shape for w in want]}")
    diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want))
    if diff > atol:
        raise ExportError(f"artifact {artifact.key}: output differs from the eager module by {diff:.3g} (> {atol:g})")
    return diff


def _encoder_of(source: CandidateConfig | DSLCodec | DSLEncoder) -> DSLEncoder:
    if isinstance(source, CandidateConfig):
        return build_codec(source).encoder
    if isinstance(source, DSLCodec):
        return source.encoder
    if isinstance(source, DSLEncoder):
        return source
    raise TypeError(f"export_paths needs a CandidateConfig, DSLCodec or DSLEncoder, got {type(source).__name__}")


def _named(enum: type[Enum], kind: str, value: str | Enum) -> Any:
    try:
        return enum(value)
    except ValueError:
        raise unknown_name(kind, str(value), [e.value for e in enum]) from None


def _file_stem(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name)


def _write(module: nn.Module, artifact: Artifact) -> None:
    example = torch.zeros(artifact.input_shape)
    try:
        with quiet_torch_export(), torch.no_grad():
            if artifact.fmt is ArtifactFormat.ONNX:
                _write_onnx(module, example, artifact.path)
            else:
                torch.jit.save(torch.jit.trace(module, example), str(artifact.path))
    except (RuntimeError, OSError) as err:
        raise ExportError(f"cannot export {artifact.key} to {artifact.path}: {err}") from err


@contextmanager
def quiet_torch_export() -> Iterator[None]:
    """Silence what says nothing a caller can act on: shapes are fixed by design (one segment per
    inference), and torch 2.11 flags the TorchScript-based paths (jit.trace/save/load, the legacy ONNX
    exporter) as deprecated, which are the ones that work without extra dependencies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message="The feature will be removed.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*Constant folding.*")
        yield


def _write_onnx(module: nn.Module, example: torch.Tensor, path: Path) -> None:
    torch.onnx.export(
        module, (example,), str(path), dynamo=False, opset_version=ONNX_OPSET,
        input_names=["input"], do_constant_folding=True,
    )
