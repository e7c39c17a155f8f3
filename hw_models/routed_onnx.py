"""The routed streaming encoder as ONNX: three graphs with explicit state, and the driver that routes them.

``export_routed_onnx`` writes, for one trained candidate at one threshold and state policy:

* ``front.onnx``: base + mask + switch for one routing segment,
  ``(pcm [1, 1, segment_samples], base state...) -> (masked [1, C_b, F_b], predicted [1], base state...)``;
* ``full_tail.onnx`` / ``light_tail.onnx``: one tail over any whole number of its strides,
  ``(masked [1, C_b, L], tail state...) -> (embedding [1, D, L / stride], tail state...)``;
* ``routed.json``: the routing (threshold, state policy, warm-up frames, state shapes, graph files).

Every conv's causal history is a graph input and output (``trainers.stream_state``), so a runtime keeps
state between calls exactly as the streaming runtime does. :class:`RoutedOnnxEncoder` is the documented
driver: per segment it runs ``front``, routes on ``predicted < threshold``, resumes the chosen tail under
the state policy (``warm``: zero state, then the tail graph over its receptive field of buffered masked
frames) and runs exactly one tail. The export is checked against the PyTorch streaming runtime on random
audio (routes equal, embeddings within ``MATCH_ATOL``) before it returns; a mismatch is an ExportError.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils import _pytree as pytree

from dslnas.hw_models.runners.artifact import ExportError
from dslnas.hw_models.runners.convert import ONNX_OPSET, quiet_torch_export
from dslnas.spaces.candidate import StatePolicy
from dslnas.trainers.encoder import DSLEncoder
from dslnas.trainers.stream_state import StreamOp
from dslnas.trainers.streaming import Route, StreamingEncoder, Tail

MANIFEST = "routed.json"
MATCH_ATOL = 1e-4
GRAPHS = {"front": "front.onnx", Tail.FULL.value: "full_tail.onnx", Tail.LIGHT.value: "light_tail.onnx"}


class _FrontStep(nn.Module):
    """One segment through base, mask and switch with the base's state flattened into tensors."""

    def __init__(self, encoder: DSLEncoder, op: StreamOp, spec: pytree.TreeSpec) -> None:
        super().__init__()
        self.base = encoder.base  # registered, so the tracer sees the op's weights as parameters
        self.mask, self.switch, self.op, self.spec = encoder.mask, encoder.switch, op, spec

    def forward(self, pcm: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        frames, new_state = self.op.step(pcm, pytree.tree_unflatten(list(state), self.spec))
        masked = self.mask(frames)
        return (masked, self.switch(masked)[0], *pytree.tree_leaves(new_state))


class _TailStep(nn.Module):
    """One tail over ``[1, C_b, L]`` masked frames with its state flattened into tensors."""

    def __init__(self, tail: nn.Module, op: StreamOp, spec: pytree.TreeSpec) -> None:
        super().__init__()
        self.tail = tail  # registered, so the tracer sees the op's weights as parameters
        self.op, self.spec = op, spec

    def forward(self, masked: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, new_state = self.op.step(masked, pytree.tree_unflatten(list(state), self.spec))
        return (out, *pytree.tree_leaves(new_state))


@dataclass(frozen=True)
class RoutedOnnxInfo:
    """What :func:`export_routed_onnx` wrote and how far its driver is from the PyTorch streaming runtime."""

    out_dir: Path
    threshold: float
    state_policy: str
    segment_samples: int
    max_abs_diff: float       # embedding, driver vs PyTorch streaming runtime, on the check audio
    check_segments: int
    check_light_usage: float  # share of the check's segments routed light (both agree on every route)


def export_routed_onnx(encoder: DSLEncoder, out_dir: str | Path, threshold: float | None = None,
                       check_segments: int = 24) -> RoutedOnnxInfo:
    """Write the three graphs and ``routed.json`` of ``encoder`` at ``threshold`` (default: the candidate's)
    under its state policy, then check the driver against the streaming runtime (see the module notes)."""
    encoder = encoder.eval()
    candidate = encoder.candidate
    tau = candidate.dsl.threshold if threshold is None else float(threshold)
    if not math.isfinite(tau) or tau < 0:
        raise ExportError(f"routing threshold must be a finite number >= 0, got {tau}")
    stream = StreamingEncoder(encoder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pcm = torch.zeros(1, 1, candidate.segment_samples)
    masked = torch.zeros(1, candidate.encoder.channels_after(candidate.dsl.switch_depth), encoder.base_frames_per_segment)
    states = {"front": _export(_front(encoder, stream, pcm), pcm, stream.base_op.initial_state(pcm), out / GRAPHS["front"],
                               ("pcm",), ("masked", "predicted"), dynamic_time=False)}
    tails = {Tail.FULL: encoder.full_tail, Tail.LIGHT: encoder.light_tail}
    for tail, op in stream.tail_ops.items():
        state = op.initial_state(masked)
        states[tail.value] = _export(_TailStep(tails[tail], op, pytree.tree_flatten(state)[1]), masked, state, out / GRAPHS[tail.value],
                                     ("masked",), ("embedding",), dynamic_time=True)
    manifest = {
        "threshold": tau, "state_policy": StatePolicy(candidate.dsl.state_policy).value,
        "segment_samples": candidate.segment_samples, "masked_channels": masked.shape[1],
        "masked_frames_per_segment": masked.shape[2],
        "warmup_frames": {t.value: n for t, n in stream.warmup_frames.items()},
        "graphs": GRAPHS, "state_shapes": states, "opset": ONNX_OPSET,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return _check(stream, RoutedOnnxEncoder(out), tau, check_segments)


def _front(encoder: DSLEncoder, stream: StreamingEncoder, pcm: torch.Tensor) -> _FrontStep:
    return _FrontStep(encoder, stream.base_op, pytree.tree_flatten(stream.base_op.initial_state(pcm))[1])


def _export(module: nn.Module, x: torch.Tensor, state: object, path: Path, inputs: tuple[str, ...],
            outputs: tuple[str, ...], dynamic_time: bool) -> list[list[int]]:
    """Export ``module(x, *state leaves)``; returns the state leaves' shapes (batch of one)."""
    leaves = pytree.tree_leaves(state)
    names = [f"state_{i}" for i in range(len(leaves))]
    dynamic = {inputs[0]: {2: "frames"}, outputs[0]: {2: "out_frames"}} if dynamic_time else None
    try:
        with quiet_torch_export(), torch.no_grad():
            torch.onnx.export(module, (x, *leaves), str(path), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=[*inputs, *names], output_names=[*outputs, *(f"new_{n}" for n in names)],
                              dynamic_axes=dynamic, do_constant_folding=True)
    except (RuntimeError, OSError) as err:
        raise ExportError(f"cannot export {path.name}: {err}") from err
    return [list(leaf.shape) for leaf in leaves]


class RoutedOnnxEncoder:
    """The driver of an exported routed encoder (onnxruntime, one thread by default).

    ``process_segment(pcm, force)`` encodes one segment of ``segment_samples`` float32 samples and returns
    ``(embedding [1, D, segment_frames], light, predicted)``; ``force`` is ``None`` (the switch decides),
    ``"full"`` or ``"light"``. State lives here between calls; :meth:`reset` starts a new stream.
    """

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        try:
            self.manifest = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, ValueError) as err:
            raise ExportError(f"{self.folder / MANIFEST}: not a routed ONNX export ({err})") from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = threads
        self.sessions = {name: ort.InferenceSession(str(self.folder / file), options, providers=["CPUExecutionProvider"])
                         for name, file in self.manifest["graphs"].items()}
        self.threshold = float(self.manifest["threshold"])
        self.policy = StatePolicy(self.manifest["state_policy"])
        self.reset()

    def reset(self) -> None:
        """Zero every state and forget the buffered frames (a new stream)."""
        self.states = {name: self._zeros(name) for name in self.sessions}
        self.last_tail: str | None = None
        self.buffer = np.zeros((1, self.manifest["masked_channels"], 0), np.float32)
        self.replayed_frames = 0

    def process_segment(self, pcm: np.ndarray, force: str | None = None) -> tuple[np.ndarray, bool, float]:
        if force not in (None, Tail.FULL.value, Tail.LIGHT.value):
            raise ValueError(f"force must be None, 'full' or 'light', got {force!r}")
        masked, predicted, self.states["front"] = self._run("front", pcm.reshape(1, 1, -1).astype(np.float32))
        light = bool(predicted[0] < self.threshold) if force is None else force == Tail.LIGHT.value
        tail = Tail.LIGHT.value if light else Tail.FULL.value
        if self.last_tail not in (None, tail):
            self._resume(tail)
        embedding, self.states[tail] = self._run(tail, masked)
        self.last_tail = tail
        capacity = max(self.manifest["warmup_frames"].values())
        self.buffer = np.concatenate([self.buffer, masked], axis=-1)[..., max(0, self.buffer.shape[-1] + masked.shape[-1] - capacity):]
        return embedding, light, float(predicted[0])

    def _resume(self, tail: str) -> None:
        """The idle ``tail``'s state per the policy: as it was (stale), zeros (reset), zeros + replay (warm)."""
        if self.policy is StatePolicy.STALE:
            return
        self.states[tail] = self._zeros(tail)
        frames = self.buffer[..., self.buffer.shape[-1] - min(self.manifest["warmup_frames"][tail], self.buffer.shape[-1]):]
        if self.policy is StatePolicy.WARM and frames.shape[-1]:
            _, self.states[tail] = self._run(tail, np.ascontiguousarray(frames))
            self.replayed_frames += frames.shape[-1]

    def _zeros(self, name: str) -> list[np.ndarray]:
        return [np.zeros(shape, np.float32) for shape in self.manifest["state_shapes"][name]]

    def _run(self, name: str, x: np.ndarray) -> tuple:
        session = self.sessions[name]
        feeds = dict(zip((i.name for i in session.get_inputs()), [x, *self.states[name]], strict=True))
        outputs = session.run(None, feeds)
        n_out = 2 if name == "front" else 1
        return (*outputs[:n_out], outputs[n_out:])


def _check(stream: StreamingEncoder, driver: RoutedOnnxEncoder, tau: float, segments: int) -> RoutedOnnxInfo:
    """Random audio through the driver and the PyTorch streaming runtime, routed by the switch at ``tau`` and
    on a forced pattern with switch-backs (so the state policy's resumes are checked whatever the switch
    predicts): same routes, embeddings within ``MATCH_ATOL``."""
    seg = stream.candidate.segment_samples
    audio = torch.from_numpy(np.random.default_rng(0).standard_normal(segments * seg).astype(np.float32) * 0.1)
    audio[: segments // 3 * seg] *= 0.01  # a quiet stretch, so a trained switch takes both routes
    base = stream.stream_base(audio.view(1, 1, -1))
    forced = torch.tensor([(s // 2) % 3 == 1 for s in range(segments)])  # F F L L F F F F L L ...
    runs = {None: stream.run(base, Route.AUTO, tau), "pattern": stream.run_pattern(base, forced)}
    diff, auto_routes = 0.0, []
    for mode, expected in runs.items():
        driver.reset()
        outputs, routes = [], []
        for s, chunk in enumerate(audio.numpy().reshape(segments, seg)):
            force = None if mode is None else (Tail.LIGHT.value if forced[s] else Tail.FULL.value)
            embedding, light, _ = driver.process_segment(chunk, force)
            outputs.append(embedding)
            routes.append(light)
        if routes != expected.use_light.tolist():
            raise ExportError(f"routed ONNX export in {driver.folder}: the driver routes differently from the streaming runtime")
        diff = max(diff, float(np.abs(np.concatenate(outputs, axis=-1) - expected.embedding.numpy()).max()))
        auto_routes = auto_routes or routes
    if diff > MATCH_ATOL:
        raise ExportError(f"routed ONNX export in {driver.folder}: embedding differs from the streaming runtime by {diff:.3g}")
    driver.reset()
    return RoutedOnnxInfo(driver.folder, tau, driver.policy.value, seg, diff, segments, float(np.mean(auto_routes)))
