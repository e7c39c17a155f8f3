"""The streaming runtime: what a device that skips the unused tail computes, segment by segment.

Per routing segment (``candidate.segment_samples`` input samples) the runtime runs the base network, the
mask and the switch on the new samples with explicit causal state (``trainers.stream_state``), decides the
route, then runs **exactly one** tail on the segment's masked frames. A tail that sat idle resumes with the
history its :class:`StatePolicy` gives it: zeros (``reset``), what it had (``stale``), or (``warm``) a replay,
from zeros, of its receptive field of buffered masked base frames, which makes its output equal the
offline tail's at the cost of the replayed frames (reported, so the cost model can price it).

Routes: ``auto`` (light where the switch's prediction < tau), ``full``, ``light``, ``oracle`` (runs both
tails from the same states for the segment, routes light where the *actual* discrepancy < tau, then commits
only the chosen tail's state) and a forced per-segment pattern (:meth:`StreamingEncoder.run_pattern`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dslnas.spaces.candidate import StatePolicy
from dslnas.trainers.dsl import route_light, segment_discrepancy
from dslnas.trainers.encoder import DSLEncoder
from dslnas.trainers.stream_state import State, StreamOp, compile_stream, warmup_frames
from dslnas.trainers.stream_types import (
    BaseStream, Route, StreamResult, Tail, count_switch_backs, count_warm_replays,
)

__all__ = ["BaseStream", "Route", "StreamResult", "StreamingEncoder", "Tail", "count_switch_backs", "count_warm_replays",
           "route_pattern"]


@dataclass(frozen=True)
class _TailState:
    causal: State
    in_sync: bool  # the state has seen every base frame so far (it ran in the previous segment)


class StreamingEncoder:
    """Runs a :class:`DSLEncoder`'s modules segment by segment (batch of one). Weights are the encoder's own."""

    def __init__(self, encoder: DSLEncoder) -> None:
        self.encoder = encoder
        self.candidate = encoder.candidate
        self.base_op = compile_stream(encoder.base)
        self.tail_ops: dict[Tail, StreamOp] = {
            Tail.FULL: compile_stream(encoder.full_tail),
            Tail.LIGHT: compile_stream(encoder.light_tail),
        }
        self.warmup_frames = {tail: warmup_frames(op) for tail, op in self.tail_ops.items()}
        """Masked base frames a ``warm`` switch-back replays into each tail (its receptive field)."""

    @torch.no_grad()
    def stream_base(self, audio: torch.Tensor) -> BaseStream:
        """``audio: [1, 1, T]``, T a multiple of ``segment_samples`` -> base, mask and switch per segment."""
        seg = self.candidate.segment_samples
        if audio.dim() != 3 or audio.shape[:2] != (1, 1) or audio.shape[-1] % seg or audio.shape[-1] == 0:
            raise ValueError(f"streaming needs audio [1, 1, T] with T a positive multiple of {seg}, got {tuple(audio.shape)}")
        state = self.base_op.initial_state(audio)
        masked, predicted, zeros, total = [], [], 0, 0
        for chunk in audio.split(seg, dim=-1):
            frames, state = self.base_op.step(chunk, state)
            seg_masked = self.encoder.mask(frames)
            masked.append(seg_masked)
            predicted.append(self.encoder.switch(seg_masked)[0, 0])
            zeros, total = zeros + int((seg_masked == 0).sum()), total + seg_masked.numel()
        return BaseStream(tuple(masked), torch.stack(predicted), zeros / total)

    def encode(
        self,
        audio: torch.Tensor,
        route: Route = Route.AUTO,
        threshold: float | None = None,
        state_policy: StatePolicy | None = None,
        measure_actual: bool = False,
    ) -> StreamResult:
        """Stream ``audio [1, 1, T]`` end to end (:meth:`stream_base` then :meth:`run`)."""
        return self.run(self.stream_base(audio), route, threshold, state_policy, measure_actual)

    def run(
        self,
        base: BaseStream,
        route: Route = Route.AUTO,
        threshold: float | None = None,
        state_policy: StatePolicy | None = None,
        measure_actual: bool = False,
    ) -> StreamResult:
        """The tails over a streamed base under ``route`` at ``threshold`` (default: the candidate's)."""
        route = Route(route)
        tau = self.candidate.dsl.threshold if threshold is None else float(threshold)
        pattern = None if route is Route.ORACLE else route_pattern(route, base.predicted, tau)
        return self._run(base, pattern, tau, route, state_policy, measure_actual)

    def run_pattern(
        self,
        base: BaseStream,
        use_light: torch.Tensor,
        state_policy: StatePolicy | None = None,
        measure_actual: bool = False,
    ) -> StreamResult:
        """The tails over a streamed base on a forced ``[S]`` bool route pattern (route ``pattern``, threshold nan)."""
        if use_light.shape != (base.segments,) or use_light.dtype != torch.bool:
            raise ValueError(f"use_light must be a bool tensor [{base.segments}], got {use_light.dtype} {tuple(use_light.shape)}")
        return self._run(base, use_light.cpu(), float("nan"), Route.PATTERN, state_policy, measure_actual)

    def compose_warm(self, full: StreamResult, light: StreamResult, use_light: torch.Tensor) -> StreamResult:
        """The ``warm`` run on a forced ``[S]`` bool pattern, composed from the clip's all-full and all-light
        ``warm`` runs without running the tails again.

        Under ``warm`` a tail's output for a segment does not depend on the route history (a tail in sync
        has seen every base frame; one resuming replays its receptive field first, which is exactly what
        the offline tail sees), so the routed run's embedding is, segment by segment, the all-full or the
        all-light run's, and the oracle's actual discrepancy is theirs too. What depends on the pattern,
        the switch-backs and the replayed frames, is counted as :meth:`_run` counts it. The segment loop
        stays the reference: ``tests/test_streaming.py`` holds the two equal on random patterns, and the
        evaluator re-runs one pattern per evaluation through the loop as a check.
        """
        if StatePolicy.WARM not in (full.state_policy, light.state_policy) or full.state_policy is not light.state_policy:
            raise ValueError(f"compose_warm needs two warm runs, got {full.state_policy.value} / {light.state_policy.value}")
        if bool(full.use_light.any()) or not bool(light.use_light.all()) or use_light.shape != full.use_light.shape:
            raise ValueError("compose_warm needs the all-full and all-light runs of one clip and a pattern of its segments")
        use_light = use_light.cpu().to(torch.bool)
        seg_frames = full.embedding.shape[-1] // use_light.shape[0]
        mask = use_light.repeat_interleave(seg_frames).to(full.embedding.device).view(1, 1, -1)
        replayed = self.warm_replays(use_light)
        return StreamResult(
            embedding=torch.where(mask, light.embedding, full.embedding),
            use_light=use_light,
            predicted=full.predicted,
            actual=None,
            mask_sparsity=full.mask_sparsity,
            switch_backs=count_switch_backs(use_light),
            warmup_frames_full=replayed[Tail.FULL],
            warmup_frames_light=replayed[Tail.LIGHT],
            route=Route.PATTERN,
            state_policy=StatePolicy.WARM,
            threshold=float("nan"),
        )

    def warm_replays(self, use_light: torch.Tensor) -> dict[Tail, int]:
        """Masked base frames a ``warm`` run on the ``[S]`` bool pattern replays into each tail
        (:func:`count_warm_replays`)."""
        return count_warm_replays(use_light.tolist(), self.warmup_frames, self.encoder.base_frames_per_segment)

    @torch.no_grad()
    def _run(
        self,
        base: BaseStream,
        pattern: torch.Tensor | None,
        tau: float,
        route: Route,
        state_policy: StatePolicy | None,
        measure_actual: bool,
    ) -> StreamResult:
        policy = StatePolicy(self.candidate.dsl.state_policy if state_policy is None else state_policy)
        like = base.masked[0]
        tails = {t: _TailState(op.initial_state(like), True) for t, op in self.tail_ops.items()}
        replay = like[..., :0]
        capacity = max(self.warmup_frames.values())
        warm = {Tail.FULL: 0, Tail.LIGHT: 0}
        both = pattern is None or measure_actual
        outputs, routes, actual = [], [], []
        for s, masked in enumerate(base.masked):
            wanted = (Tail.FULL, Tail.LIGHT) if both else (Tail.LIGHT if pattern[s] else Tail.FULL,)
            ran = {t: self._step_tail(t, tails[t], policy, replay, masked) for t in wanted}
            if both:
                actual.append(self._discrepancy(ran[Tail.FULL][0], ran[Tail.LIGHT][0]))
            light = bool(actual[-1] < tau) if pattern is None else bool(pattern[s])
            chosen = Tail.LIGHT if light else Tail.FULL
            out, state, replayed = ran[chosen]
            warm[chosen] += replayed
            tails = {t: _TailState(state, True) if t is chosen else _TailState(tails[t].causal, False) for t in tails}
            outputs.append(out)
            routes.append(light)
            replay = torch.cat([replay, masked], dim=-1)[..., -capacity:] if capacity else replay
        use_light = torch.tensor(routes, dtype=torch.bool)
        return StreamResult(
            embedding=torch.cat(outputs, dim=-1), use_light=use_light, predicted=base.predicted,
            actual=torch.stack(actual) if actual else None, mask_sparsity=base.mask_sparsity,
            switch_backs=count_switch_backs(use_light), warmup_frames_full=warm[Tail.FULL],
            warmup_frames_light=warm[Tail.LIGHT], route=route, state_policy=policy, threshold=tau,
        )

    def _step_tail(
        self, tail: Tail, ts: _TailState, policy: StatePolicy, replay: torch.Tensor, masked: torch.Tensor
    ) -> tuple[torch.Tensor, State, int]:
        """Run ``tail`` on one segment's ``masked [1, C_b, F_base]`` -> (``[1, D, F_emb]``, new state, frames replayed)."""
        state, replayed = self._resume_state(tail, ts, policy, replay)
        out, state = self.tail_ops[tail].step(masked, state)
        return out, state, replayed

    def _resume_state(self, tail: Tail, ts: _TailState, policy: StatePolicy, replay: torch.Tensor) -> tuple[State, int]:
        """The causal state ``tail`` runs with this segment, per the policy when it sat idle, and frames replayed."""
        if ts.in_sync or policy is StatePolicy.STALE:
            return ts.causal, 0
        op = self.tail_ops[tail]
        zero = op.initial_state(replay)
        if policy is StatePolicy.RESET:
            return zero, 0
        frames = replay[..., replay.shape[-1] - min(self.warmup_frames[tail], replay.shape[-1]) :]
        if frames.shape[-1] == 0:
            return zero, 0
        _, state = op.step(frames, zero)
        return state, frames.shape[-1]

    def _discrepancy(self, full: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        """Scalar actual discrepancy of one segment's light output ``[1, D, F_emb]`` against its full output."""
        return segment_discrepancy(full, light, self.candidate.dsl.segment_frames)[0, 0]


def route_pattern(route: Route, predicted: torch.Tensor, threshold: float) -> torch.Tensor:
    """``[S]`` bool light-route pattern for a non-oracle route from the ``[S]`` predicted discrepancy."""
    if route is Route.AUTO:
        return route_light(predicted, threshold).cpu()
    if route is Route.FULL:
        return torch.zeros(predicted.shape[0], dtype=torch.bool)
    if route is Route.LIGHT:
        return torch.ones(predicted.shape[0], dtype=torch.bool)
    raise ValueError(f"route {route.value!r} has no pattern computable from the prediction alone")
