"""The routed pair runs the pair profiles are fitted and checked on (``bench/pair_profile.py``,
``bench/cost_model_accuracy.py --runners unicorn-pair``).

The tiny calibration suite (``calibration_suite(SUITE, 0, TINY_RANGES)``, fresh seeded weights), each
candidate's mask threshold raised to one of :data:`MASK_THRESHOLDS` in turn, streamed over :data:`SEGMENTS`
segments of noise whose loudness alternates (``warm`` policy, routed at the median switch prediction) on the
``unicorn-pair`` runner; HELD-OUT candidates (two widths x the same thresholds, not in the suite) are run the
same way. ``PairSuite.DEMO`` (``--suite demo``) calibrates on the demo's sizes instead: draws from the pair
demo space (``configs/pair-demo-space.yaml``: the demo preset's base, its switch depths, light widths and switch
heads, drawn as the search's random sampler draws them) and from :data:`DEMO_RANGES` around that base; its
held-out candidate is the demo preset itself (the pair demo's knee architecture), which the suite never draws. Each run's counts carry each ELU's share of negative inputs measured on the run's own audio
(``elu_stats.routed_negative_shares``: each tail on the segments routed to it), and, for exports that skip the mask's zeros, the tails' first convs cut by the run's sparsity.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from dslnas.hw_models.calibration_suite import TINY_RANGES, SuiteRanges, calibration_suite
from dslnas.hw_models.counts import EncoderCounts, Part
from dslnas.hw_models.elu_stats import routed_negative_shares, with_negative_shares
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.pair_calibrate import PairSample
from dslnas.hw_models.placement import measure_mask_sparsity, with_sparse_tail_inputs
from dslnas.hw_models.runners.routed import RoutedRun
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import candidate_preset

if TYPE_CHECKING:
    from dslnas.hw_models.runners.pair import PairRunner
    from dslnas.trainers.dsl import DSLEncoder

SEGMENTS = 10
SUITE = 16
MASK_THRESHOLDS = (0.0, 0.05, 0.2)
HELD_OUT_CHANNELS = (4, 8)
PAIR_DEMO_SPACE = Path(__file__).resolve().parents[1] / "configs" / "pair-demo-space.yaml"
DEMO_SPACE_DRAWS = 16  # the demo suite: this many from the pair demo space, then DEMO_RANGE_DRAWS around it
DEMO_RANGE_DRAWS = 16
# Around the demo preset (stem 8, blocks 16/24/32 at strides 2/4/5, kernel 5, dilations 1/3, embedding 32,
# 10-frame segments): the pair demo space's light widths and switch heads, neighbouring bases.
DEMO_RANGES = SuiteRanges(
    stride_sets=((2, 4, 5), (2, 4, 8), (4, 5, 8), (2, 2, 4, 5)), stem_channels=(4, 8, 12),
    width_growth=(1.0, 1.5, 2.0, 3.0), min_width=8, max_width=48, residual_kernels=(3, 5), residual_dilations=((1,), (1, 3)), embedding_dims=(16, 32),
    final_kernels=(1, 3), segment_frames=(5, 10), light_widths=(4, 8, 12, 16), switch_hidden=(4, 8, 16),
)
_GAINS = (0.8, 0.6, 0.01, 0.02, 0.5, 0.7, 0.02, 0.9, 0.005, 0.01)


@dataclass(frozen=True)
class PairSuiteRun:
    """One candidate's routed run on the pair: ``fit_counts`` (as the fit reads them: ELU shares, and the
    skipped zeros where the export skips them), ``counts`` (ELU shares only: what the price rewrites itself),
    the run, the mask's sparsity on its audio, and the encoder."""

    fit_counts: EncoderCounts | None  # None only while being built (:func:`recounted` fills both)
    counts: EncoderCounts | None
    run: RoutedRun
    sparsity: float
    encoder: "DSLEncoder"

    @property
    def sample(self) -> PairSample:
        return PairSample(self.encoder.candidate.name, self.fit_counts, self.run)


def held_out_candidate(channels: int, name: str) -> CandidateConfig:
    """A candidate outside the tiny suite's draws: two blocks of ``channels``, switch after the first."""
    return CandidateConfig(name=name, encoder=EncoderArch(stem_channels=2, block_channels=(channels, channels),
                                                          block_strides=(2, 2), embedding_dim=4),
                           dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2))


def noise(cand: CandidateConfig, seed: int = 0) -> np.ndarray:
    """``[SEGMENTS, segment_samples]`` noise whose loudness alternates per segment (loud runs, quiet runs)."""
    gains = np.array(_GAINS[:SEGMENTS])
    return (np.random.default_rng(seed).standard_normal((SEGMENTS, cand.segment_samples)) * gains[:, None]).astype(np.float32)


def pair_run(cand: CandidateConfig, mask_threshold: float, work: Path, skip: bool, runner: "PairRunner") -> PairSuiteRun:
    """One candidate (fresh weights, seed 0) at ``mask_threshold`` exported and streamed on ``runner``."""
    from dslnas.hw_models.c_export import export_c
    from dslnas.trainers.codec import build_codec

    torch.manual_seed(0)
    encoder = build_codec(cand).encoder.eval()
    audio = torch.from_numpy(noise(cand).reshape(1, 1, -1))
    with torch.no_grad():
        encoder.mask.threshold.fill_(mask_threshold)
        predicted = encoder.switch(encoder.mask(encoder.base(audio)))[0].numpy()
    sparsity = measure_mask_sparsity(encoder, audio)
    info = export_c(encoder, cand, work / f"{cand.name}-{mask_threshold:g}", float(np.median(predicted)),
                    state_policy="warm", skip_zero_inputs=skip)
    return recounted(PairSuiteRun(None, None, runner.run_routed(info, noise(cand)), sparsity, encoder), skip)


def recounted(r: PairSuiteRun, skip: bool) -> PairSuiteRun:
    """``r`` with its counts (re)made from its encoder and run: each ELU's share measured on the segments that
    ran it (``elu_stats.routed_negative_shares``), and, for a zero-skipping export, each tail's first conv cut
    by the mask's zeros on the segments routed to that tail (:func:`tail_sparsity`)."""
    audio = noise(r.encoder.candidate)
    counts = with_negative_shares(count_candidate(r.encoder), routed_negative_shares(r.encoder, audio, r.run.routes))
    if not skip:
        return replace(r, fit_counts=counts, counts=counts)
    paths = dict(counts.paths)
    for tail, sparsity in tail_sparsity(r.encoder, audio, r.run.routes).items():
        paths[tail] = with_sparse_tail_inputs(counts, sparsity).paths[tail]
    return replace(r, fit_counts=replace(counts, paths=paths), counts=counts)


def tail_sparsity(encoder: "DSLEncoder", audio: np.ndarray, routes: tuple[bool, ...]) -> dict[Part, float]:
    """The mask's share of exact zeros on the segments routed to each tail (``routes``: light per segment;
    ``audio``: ``[segments, samples]``); a tail no segment took gets the whole run's share. Loud and quiet
    segments differ a lot, so one share per run misprices each tail's skipped zeros."""
    with torch.no_grad():
        masked = encoder.mask(encoder.base(torch.from_numpy(audio.reshape(1, 1, -1))))[0]
    zeros = (masked == 0).float().reshape(masked.shape[0], len(routes), -1).mean(dim=(0, 2)).numpy()
    light = np.array(routes, dtype=bool)
    return {tail: float(zeros[rows].mean()) if rows.any() else float(zeros.mean())
            for tail, rows in ((Part.FULL_TAIL, ~light), (Part.LIGHT_TAIL, light))}


class PairSuite(str, enum.Enum):
    """Which candidates the pair is calibrated on: ``tiny`` (the tiny calibration suite: quick, what the tests
    run) or ``demo`` (the pair demo space's sizes: what the shipped pair profiles are fitted on)."""

    TINY = "tiny"
    DEMO = "demo"

    def candidates(self) -> list[CandidateConfig]:
        """The suite's candidates, seeded: the same list every call."""
        if self is PairSuite.TINY:
            return calibration_suite(SUITE, 0, TINY_RANGES)
        return demo_space_draws(DEMO_SPACE_DRAWS) + calibration_suite(DEMO_RANGE_DRAWS, 0, DEMO_RANGES)

    def held_out(self) -> list[CandidateConfig]:
        """Candidates the suite never draws: two widths of a tiny candidate, or the demo preset and one more
        draw around it (another seed)."""
        if self is PairSuite.TINY:
            return [held_out_candidate(channels, f"pair{channels}") for channels in HELD_OUT_CHANNELS]
        around = calibration_suite(1, 1, DEMO_RANGES)[0]
        return [candidate_preset("demo"), around.model_copy(update={"name": "pairdemo-held-out"})]


def _architecture(cand: CandidateConfig) -> str:
    """What the export runs (the encoder and the DSL's shape), without the training knobs and the name."""
    dsl = cand.dsl.model_dump(exclude={"alpha", "beta", "threshold"})
    return cand.encoder.model_dump_json() + repr(sorted(dsl.items()))


def demo_space_draws(n: int, seed: int = 0) -> list[CandidateConfig]:
    """``n`` distinct candidates of the pair demo space (:data:`PAIR_DEMO_SPACE`) as its random sampler draws
    them, seeded, none with the demo preset's architecture (the held-out one)."""
    import optuna

    from dslnas.spaces.space_presets import load_space

    space = load_space(str(PAIR_DEMO_SPACE))
    seen, out = {_architecture(candidate_preset("demo"))}, []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    for _ in range(50 * n):
        cand = space.suggest(study.ask())
        if _architecture(cand) not in seen:
            seen.add(_architecture(cand))
            out.append(cand.model_copy(update={"name": f"pairdemo-{len(out):02d}-{cand.name}"}))
        if len(out) == n:
            return out
    raise UserError(f"the pair demo space allows fewer than {n} distinct candidates")


def suite_runs(work: Path, skip: bool, runner: "PairRunner", suite: PairSuite = PairSuite.TINY) -> list[PairSuiteRun]:
    """The calibration suite's runs (what the pair profile is fitted on)."""
    return [pair_run(c, MASK_THRESHOLDS[i % len(MASK_THRESHOLDS)], work, skip, runner)
            for i, c in enumerate(suite.candidates())]


def held_out_runs(work: Path, skip: bool, runner: "PairRunner", suite: PairSuite = PairSuite.TINY) -> list[PairSuiteRun]:
    """Runs of candidates the fit never saw: the suite's held-out candidates x :data:`MASK_THRESHOLDS`."""
    return [pair_run(cand, threshold, work, skip, runner) for cand in suite.held_out() for threshold in MASK_THRESHOLDS]
