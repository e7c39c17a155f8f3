"""Convert an exported artifact (ONNX or TorchScript, one part of an encoder) back into a C-exportable program.

An artifact holds the part's weights under their module names (``base.1.0.conv.weight``, ``tail.2.bias``,
``mask.scale`` ...) and each conv's stride and dilation (ONNX ``Conv`` attributes; TorchScript
``aten::_convolution`` constants). From those the part is rebuilt from ``trainers.blocks`` modules, checked
against the artifact's own runtime on a random input (``convert.check_artifact``), and lowered with
``c_export.program``: what the emulated board runs is what the artifact computes, or the conversion fails.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from google.protobuf.message import DecodeError
from torch import nn

from dslnas.hw_models.c_export.program import (
    PATH_FULL, PATH_LIGHT, CExportError, Program, lower_chain, lower_mask, lower_switch,
)
from dslnas.hw_models.counts import Part
from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat, ExportPart
from dslnas.hw_models.runners.convert import MaskedSwitch, RoutedPath, check_artifact
from dslnas.trainers.blocks import CausalConv1d, ResidualUnit
from dslnas.trainers.dsl import Mask, Switch

ConvAttrs = Mapping[str, tuple[int, int]]  # conv module name -> (stride, dilation)
PART_PATH = {ExportPart.FULL: PATH_FULL, ExportPart.LIGHT: PATH_LIGHT,
             ExportPart.FULL_TAIL: PATH_FULL, ExportPart.LIGHT_TAIL: PATH_LIGHT}
PART_TAIL = {ExportPart.FULL: Part.FULL_TAIL, ExportPart.LIGHT: Part.LIGHT_TAIL,
             ExportPart.FULL_TAIL: Part.FULL_TAIL, ExportPart.LIGHT_TAIL: Part.LIGHT_TAIL}  # the tail each part runs


def artifact_part(artifact: Artifact) -> ExportPart:
    """The part an artifact named ``<candidate>-<part>`` holds."""
    suffix = artifact.name.rsplit("-", 1)[-1]
    try:
        return ExportPart(suffix)
    except ValueError:
        valid = ", ".join(p.value for p in ExportPart)
        raise CExportError(f"artifact name {artifact.name!r} does not end in -<part> ({valid})") from None


def program_from_artifact(artifact: Artifact) -> tuple[Program, int]:
    """The part as a :class:`Program` and the ``force`` that runs it (its path id, or 0 without a tail)."""
    part = artifact_part(artifact)
    try:
        params, attrs = _read_onnx(artifact) if artifact.fmt is ArtifactFormat.ONNX else _read_torchscript(artifact)
    except (OSError, ValueError, RuntimeError, DecodeError) as err:
        raise CExportError(f"cannot read {artifact.fmt.value} artifact {artifact.path}: {err}") from err
    module = rebuild_part(part, params, attrs, artifact.input_shape)
    check_artifact(artifact, module.eval())
    return lower_part(part, module, artifact.name, artifact.input_shape), PART_PATH.get(part, 0)


def rebuild_part(part: ExportPart, params: Mapping[str, np.ndarray], attrs: ConvAttrs, shape: tuple[int, ...]) -> nn.Module:
    """The part's eager module, with the artifact's weights."""
    if part in (ExportPart.FULL, ExportPart.LIGHT):
        base = _sequential("base.", params, attrs)
        frames = shape[-1] // _hop(base)
        return RoutedPath(base, _mask(params), _switch(params, frames), _sequential("tail.", params, attrs))
    if part is ExportPart.SWITCH:
        return MaskedSwitch(_mask(params), _switch(params, shape[-1]))
    return _sequential("", params, attrs)


def lower_part(part: ExportPart, module: nn.Module, name: str, shape: tuple[int, ...]) -> Program:
    channels, frames = shape[1], shape[-1]
    if part in (ExportPart.FULL, ExportPart.LIGHT):
        base = lower_chain(Part.BASE, module.base, 1)
        tail = lower_chain(PART_TAIL[part], module.tail, base.c_out)
        return Program(name, 1, frames, base, lower_mask(module.mask), lower_switch(module.switch), {PART_PATH[part]: tail})
    if part is ExportPart.SWITCH:
        return Program(name, channels, frames, None, lower_mask(module.mask), lower_switch(module.switch), {})
    if part is ExportPart.BASE:
        return Program(name, channels, frames, lower_chain(Part.BASE, module, channels), None, None, {})
    return Program(name, channels, frames, None, None, None, {PART_PATH[part]: lower_chain(PART_TAIL[part], module, channels)})


def _sequential(prefix: str, params: Mapping[str, np.ndarray], attrs: ConvAttrs) -> nn.Sequential:
    """Children ``<prefix><i>``: a conv (own weight), a block (nested names) or a parameter-free ELU."""
    indices = {int(m.group(1)) for k in params if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))}
    if not indices:
        raise CExportError(f"the artifact has no parameters under {prefix or 'the top level'!r}")
    children: list[nn.Module] = []
    for i in range(max(indices) + 1):
        name = f"{prefix}{i}"
        if f"{name}.weight" in params:
            children.append(_conv(name, params, attrs))
        elif f"{name}.conv.weight" in params:
            children.append(_residual(name, params, attrs))
        elif i in indices:
            children.append(_sequential(f"{name}.", params, attrs))
        else:
            children.append(nn.ELU())
    return nn.Sequential(*children)


def _conv(name: str, params: Mapping[str, np.ndarray], attrs: ConvAttrs) -> CausalConv1d:
    weight = _param(params, f"{name}.weight")
    if name not in attrs:
        raise CExportError(f"no conv node found for the weights {name}.weight")
    stride, dilation = attrs[name]
    conv = CausalConv1d(weight.shape[1], weight.shape[0], weight.shape[2], stride=stride, dilation=dilation)
    _load(conv, {"weight": weight, "bias": _param(params, f"{name}.bias")})
    return conv


def _residual(name: str, params: Mapping[str, np.ndarray], attrs: ConvAttrs) -> ResidualUnit:
    conv, pointwise = _conv(f"{name}.conv", params, attrs), _conv(f"{name}.pointwise", params, attrs)
    unit = ResidualUnit(conv.in_channels, conv.kernel_size[0], conv.dilation[0])
    unit.conv, unit.pointwise = conv, pointwise
    return unit


def _mask(params: Mapping[str, np.ndarray]) -> Mask:
    scale = _param(params, "mask.scale")
    mask = Mask(scale.shape[1])
    if "mask.threshold" not in params and "mask.threshold_raw" in params:  # an artifact of the first mask design
        threshold = torch.nn.functional.softplus(torch.from_numpy(np.asarray(params["mask.threshold_raw"]))).numpy()
    else:
        threshold = _param(params, "mask.threshold")
    _load(mask, {"scale": scale, "threshold": threshold})
    return mask


def _switch(params: Mapping[str, np.ndarray], frames: int) -> Switch:
    embed_w = _param(params, "switch.embed.weight")
    switch = Switch(embed_w.shape[1], embed_w.shape[0], frames)
    head_w = params.get("switch.head.weight")
    if head_w is None:  # ONNX keeps the linear as MatMul with the transposed weight under a generated name
        head_w = _param(params, "switch.head.weight.T").T
    _load(switch, {"embed.weight": embed_w, "embed.bias": _param(params, "switch.embed.bias"),
                   "head.weight": head_w.reshape(1, -1), "head.bias": _param(params, "switch.head.bias")})
    return switch


def _hop(module: nn.Module) -> int:
    return math.prod(m.stride[0] for m in module.modules() if isinstance(m, nn.Conv1d))


def _param(params: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in params:
        raise CExportError(f"the artifact has no parameter {name!r}")
    return params[name]


def _load(module: nn.Module, tensors: Mapping[str, np.ndarray]) -> None:
    state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in tensors.items()}
    module.load_state_dict(state, strict=True)


def _read_onnx(artifact: Artifact) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int]]]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(artifact.path))
    params = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    attrs: dict[str, tuple[int, int]] = {}
    for node in model.graph.node:
        values = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv" and node.input[1].endswith(".weight"):
            attrs[node.input[1][: -len(".weight")]] = (values.get("strides", [1])[0], values.get("dilations", [1])[0])
        if node.op_type == "MatMul" and node.input[1] in params and "switch.head.bias" in params:
            params["switch.head.weight.T"] = params[node.input[1]]
    return params, attrs


def _read_torchscript(artifact: Artifact) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int]]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        module = torch.jit.load(str(artifact.path), map_location="cpu")
    params = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    attrs: dict[str, tuple[int, int]] = {}
    for name, sub in module.named_modules():
        if getattr(sub, "original_name", "") not in ("CausalConv1d", "Conv1d"):
            continue
        node = next((n for n in sub.graph.nodes() if n.kind() == "aten::_convolution"), None)
        if node is None:
            raise CExportError(f"TorchScript conv {name} has no aten::_convolution node")
        stride, _, dilation = (_int_list(node.inputsAt(i)) for i in (3, 4, 5))
        attrs[name] = (stride[0], dilation[0])
    return params, attrs


def _int_list(value: torch._C.Value) -> list[int]:
    constant = value.toIValue()
    if constant is not None:
        return list(constant)
    return [int(v.toIValue()) for v in value.node().inputs()]
