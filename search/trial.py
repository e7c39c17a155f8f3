"""One search trial: fine-tune a candidate from the study's base codec, evaluate it streaming, price it.

The base codec is trained once per study (``base_codec.ensure_base_codec``); each trial inserts its DSL
into it and fine-tunes (the paper's use), evaluates full / light / mixed quality on the streaming runtime
at every threshold of its sweep (the threshold costs no training), and prices every sweep point under its
own routing (light usage, mask sparsity, warm replays; at its cheapest placement on a multi-unit profile). Backends call :meth:`TrialRunner.run` and store the points it returns
(``search.points``): the trained trial's own and the others as sweep trials.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.search.config import SearchConfig
from dslnas.search.fidelity_eval import evaluation_plan
from dslnas.search.points import CandidatePoints, build_points
from dslnas.search.records import EvaluatedClass, TrialTiming, VisqolRules
from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.run_config import DataConfig, RunConfig, TrainConfig

if TYPE_CHECKING:  # the training stack (torch) is imported when a trial runs, not by export or the report
    from dslnas.trainers.data import Clip
    from dslnas.trainers.train import TrainResult
    from dslnas.trainers.visqol_score import VisqolScorer


def evaluated_classes(clips: Sequence["Clip"], sample_rate_hz: int) -> dict[str, EvaluatedClass]:
    """:class:`EvaluatedClass` per label of the clips a candidate is scored on."""
    by_label: dict[str, list[Clip]] = {}
    for clip in clips:
        by_label.setdefault(clip.label, []).append(clip)
    return {label: EvaluatedClass(len(group), round(sum(c.num_samples for c in group) / sample_rate_hz, 3),
                                  tuple(sorted({c.speaker for c in group if c.speaker})))
            for label, group in sorted(by_label.items())}


def trial_train_config(config: SearchConfig, base_checkpoint: Path) -> TrainConfig:
    """The per-trial fine-tune recipe: the space's, starting from the base codec, on the search's data."""
    finetune = config.space.finetune
    data = config.data or finetune.data
    return finetune.model_copy(update={"init_checkpoint": str(base_checkpoint), "data": data})


@dataclass
class TrialRunner:
    config: SearchConfig
    base_checkpoint: Path

    def __post_init__(self) -> None:
        # the default placement rule (cheapest mixed power), as evaluate, cost and confirm price: one price
        self.cost_model = ProfileCostModel(load_profile(self.config.profile))
        self._eval_clips: list["Clip"] | None = None
        self._scorer: "VisqolScorer | None" = None

    def scorer(self) -> "VisqolScorer":
        """One ViSQOL scorer for this runner's trials, scoring in as many processes as this worker has
        torch threads (its share of the host's cores)."""
        import torch

        from dslnas.trainers.visqol_score import VisqolScorer

        if self._scorer is None:
            self._scorer = VisqolScorer(workers=max(1, torch.get_num_threads()))
        return self._scorer

    def eval_clips(self, data: DataConfig, sample_rate_hz: int, min_samples: int) -> list["Clip"]:
        from dslnas.trainers.data import evaluation_clips, load_dataset

        if self._eval_clips is None:
            clips = load_dataset(data, sample_rate_hz, min_samples=min_samples)
            self._eval_clips = evaluation_clips(clips, data, sample_rate_hz, all_when_none_held_out=True)
        return self._eval_clips

    def run(self, candidate: CandidateConfig, trial_key: str, steps: int | None = None,
            start_from: Path | None = None) -> CandidatePoints:
        """Fine-tune, evaluate and price ``candidate`` at every swept threshold; the checkpoint goes to
        ``<study>/trials/<trial_key>/``.

        ``steps`` (a multi-fidelity rung, ``search.fidelity``): fine-tune that many steps instead of the space's,
        continuing from ``start_from`` (the previous rung's checkpoint, copied in; its step, optimizer and random
        states resume exactly); the records then carry ``fidelity_steps`` when it is fewer than the space's."""
        from dslnas.hw_models.elu_stats import clip_negative_shares

        timing: dict[str, float] = {}
        started = time.perf_counter()
        recipe = trial_train_config(self.config, self.base_checkpoint)
        full_steps = recipe.steps
        run = RunConfig(candidate=candidate, train=recipe if steps is None else recipe.model_copy(update={"steps": steps}))
        result = self._train(run, trial_key, start_from)
        timing["train"] = time.perf_counter() - started

        codec, clips, evaluation, scorer = self._evaluate(candidate, run, full_steps, result.checkpoint_path, timing)

        started = time.perf_counter()  # counting and the ELU shares on the scored clips; points priced in build_points
        price = self.cost_model.pricer(candidate, clip_negative_shares(codec.encoder, [c.audio for c in clips]))
        timing["cost"] = time.perf_counter() - started
        rules = VisqolRules(scorer.counts.references, scorer.counts.levelled, scorer.counts.digital_silence)
        evaluated = evaluated_classes(clips, candidate.encoder.sample_rate_hz)
        timing_s = TrialTiming(*(round(timing[k], 3) for k in ("train", "evaluate", "visqol", "cost")))
        points = build_points(candidate, evaluation, price, result.checkpoint_path, timing_s, self.config.space.objectives,
                              rules, evaluated, result.light_start)
        return points if run.train.steps >= full_steps else at_fidelity(points, run.train.steps)

    def _evaluate(self, candidate: CandidateConfig, run: RunConfig, full_steps: int, checkpoint_path: Path,
                  timing: dict[str, float]) -> tuple:
        """The trained checkpoint's streaming evaluation on this fidelity's clips and thresholds; fills
        ``timing['visqol']`` (wall time waiting on ViSQOL, decoding overlaps it) and ``timing['evaluate']``."""
        from dslnas.trainers.checkpoint import load_checkpoint
        from dslnas.trainers.codec import build_codec
        from dslnas.trainers.evaluate import evaluate_codec

        started = time.perf_counter()
        codec = build_codec(candidate)
        codec.load_state_dict(load_checkpoint(checkpoint_path).model)
        clips, sweep = evaluation_plan(self.config.fidelity, run.train.steps, full_steps, self.eval_clips(
            run.train.data, candidate.encoder.sample_rate_hz, candidate.segment_samples), self.config.space.sweep_thresholds)
        scorer = self.scorer()
        scored_s = scorer.seconds
        evaluation = evaluate_codec(codec, clips, scorer=scorer, oracle=self.config.space.oracle, **sweep)
        timing["visqol"] = scorer.seconds - scored_s
        timing["evaluate"] = time.perf_counter() - started - timing["visqol"]
        return codec, clips, evaluation, scorer

    def _train(self, run: RunConfig, trial_key: str, start_from: Path | None) -> "TrainResult":
        """Train ``run`` into ``<study>/trials/<trial_key>/``, first copying ``start_from`` there (when given and
        the folder has no checkpoint of its own yet: a rung killed midway resumes from its own)."""
        from dslnas.trainers.train import CHECKPOINT_NAME, train

        out_dir = self.config.study_root / "trials" / trial_key
        if start_from is not None and not (out_dir / CHECKPOINT_NAME).exists():
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(start_from, out_dir / CHECKPOINT_NAME)
        return train(run, out_dir)


def at_fidelity(points: CandidatePoints, steps: int) -> CandidatePoints:
    """``points`` marked as trained ``steps`` fine-tune steps only (a low-fidelity rung)."""
    return CandidatePoints(tuple(replace(r, fidelity_steps=steps) for r in points.points), points.own)
