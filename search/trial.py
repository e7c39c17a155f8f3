"""One search trial: fine-tune a candidate from the study's base codec, evaluate, price, record.

The base codec is trained once per study (``base_codec.ensure_base_codec``); each trial inserts its DSL
into it and fine-tunes (the paper's use), evaluates full / light / mixed quality with a threshold sweep
on the same trained model, and prices the candidate with the cost model at the measured light usage.
Backends call :meth:`TrialRunner.run` and store the :class:`TrialRecord` it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dslnas.hw_models.cost import CostSummary, ProfileCostModel
from dslnas.hw_models.profile import load_profile
from dslnas.search.config import SearchConfig
from dslnas.search.records import PathQuality, SweepPoint, TrialRecord
from dslnas.spaces.candidate import CandidateConfig, DataConfig, RunConfig, TrainConfig
from dslnas.spaces.space import Constraints
from dslnas.trainers.checkpoint import load_checkpoint
from dslnas.trainers.codec import build_codec
from dslnas.trainers.data import Clip, load_dataset, train_eval_split
from dslnas.trainers.evaluate import EvaluationResult, evaluate_codec
from dslnas.trainers.train import train
from dslnas.trainers.visqol_score import VisqolScorer


class TimedScorer(VisqolScorer):
    """A ViSQOL scorer that adds up the seconds spent scoring (for the per-trial time split)."""

    seconds: float = 0.0

    def score(self, *args: Any, **kwargs: Any) -> float:
        started = time.perf_counter()
        try:
            return super().score(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


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
        self.cost_model = ProfileCostModel(load_profile(self.config.profile))
        self._eval_clips: list[Clip] | None = None

    def eval_clips(self, data: DataConfig, sample_rate_hz: int, min_samples: int) -> list[Clip]:
        if self._eval_clips is None:
            clips = load_dataset(data, sample_rate_hz, min_samples=min_samples)
            self._eval_clips = train_eval_split(clips, data.eval_fraction, data.seed)[1] or clips
        return self._eval_clips

    def run(self, candidate: CandidateConfig, trial_key: str) -> TrialRecord:
        """Fine-tune, evaluate and price ``candidate``; the checkpoint goes to ``<study>/trials/<trial_key>/``."""
        timing: dict[str, float] = {}
        started = time.perf_counter()
        run = RunConfig(candidate=candidate, train=trial_train_config(self.config, self.base_checkpoint))
        result = train(run, self.config.study_root / "trials" / trial_key)
        timing["train"] = time.perf_counter() - started

        started = time.perf_counter()
        codec = build_codec(candidate)
        codec.load_state_dict(load_checkpoint(result.checkpoint_path).model)
        clips = self.eval_clips(run.train.data, candidate.encoder.sample_rate_hz, candidate.segment_samples)
        scorer = TimedScorer()
        evaluation = evaluate_codec(codec, clips, sweep_thresholds=self.config.space.sweep_thresholds, scorer=scorer)
        timing["visqol"] = scorer.seconds
        timing["evaluate"] = time.perf_counter() - started - scorer.seconds

        started = time.perf_counter()
        cost = self.cost_model.predict(candidate, evaluation.overall.light_usage).summary()
        timing["cost"] = time.perf_counter() - started
        return build_record(candidate, evaluation, cost, result.checkpoint_path, timing)


def build_record(
    candidate: CandidateConfig,
    evaluation: EvaluationResult,
    cost: CostSummary,
    checkpoint: Path,
    timing: dict[str, float],
) -> TrialRecord:
    """Assemble the trial's record; each sweep point is priced at its own light usage (``CostSummary.at_light_usage``)."""
    overall = evaluation.overall
    sweep = tuple(
        SweepPoint(
            threshold=p.threshold,
            light_usage=p.light_usage,
            visqol_mixed=p.visqol_mixed,
            latency_ms=(priced := cost.at_light_usage(p.light_usage)).latency_ms.mixed,
            power_mw=priced.power_mw.mixed,
            light_usage_per_class=dict(p.light_usage_per_class),
            visqol_mixed_per_class=dict(p.visqol_mixed_per_class),
        )
        for p in evaluation.sweep
    )
    record = TrialRecord(
        candidate=candidate,
        visqol=PathQuality(overall.visqol_full, overall.visqol_light, overall.visqol_mixed),
        light_usage=overall.light_usage,
        light_usage_per_class={k: g.light_usage for k, g in evaluation.per_class.items()},
        visqol_per_class={k: PathQuality(g.visqol_full, g.visqol_light, g.visqol_mixed) for k, g in evaluation.per_class.items()},
        sparsity=overall.sparsity,
        switch_mae=overall.switch_mae,
        cost=cost,
        checkpoint=str(checkpoint),
        sweep=sweep,
        timing_s={k: round(v, 3) for k, v in timing.items()},
    )
    record.check_finite()
    return record


def constraint_values(record: TrialRecord, constraints: Constraints) -> dict[str, float]:
    """Optuna constraint values by limit name (<= 0 feasible: how far the trial is over the limit).

    Only the limits the space sets appear; a space without limits gives an empty dict.
    """
    measured = {
        "min_visqol": -record.visqol_mixed,   # the limit is a floor: compare negated values
        "max_visqol_drop": record.visqol_full - record.visqol_mixed,
        "max_latency_ms": record.latency_ms,
        "max_power_mw": record.power_mw,
    }
    limits = constraints.model_dump()
    return {
        name: (measured[name] + limits[name]) if name == "min_visqol" else measured[name] - limits[name]
        for name in measured
        if limits[name] is not None
    }
