"""Small real Optuna studies built by hand (no training) with records of realistic numbers.

Costs follow the paper's Table 1 on the A32 (full 14.74 ms / 11.56 mW, light 9.86 ms / 8.47 mW), split
over the parts the cost model prices; the mixed pass is the usage-weighted mean, as the cost model does.

``build_demo_study`` holds, by trial number:

0 reference (paper DSL)   usage 0.60  ViSQOL 4.40 @ 11.81 ms   front, knee, best within 12 ms
1 baseline (full only)    usage 0.00  ViSQOL 4.46 @ 14.74 ms   front
2 search                  usage 0.80  ViSQOL 4.30 @ 10.84 ms   front, best within 11 ms
3 search                  usage 0.30  ViSQOL 4.38 @ 13.28 ms   dominated (by 0)
4 search                  usage 0.90  ViSQOL 3.20 @ 10.35 ms   infeasible (drop 1.24 > 1.0)
5 search                  failed, reason contains <script>
6 search, evil name       usage 0.70  ViSQOL 4.35 @ 11.32 ms   front
"""

from __future__ import annotations

import json
import random

import optuna
from optuna.trial import TrialState, create_trial

from dslnas.search.config import SearchConfig
from dslnas.hw_models.cost import Cost, PassFigures, mix
from dslnas.search.records import (
    STUDY_ATTR_CONFIG, ClipScore, EvaluatedClass, PathQuality, Role, SweepPoint, SwitchQuality, TrialRecord, TrialTiming, VisqolRules, fail_attrs,
    record_attrs, role_attrs,
)
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch, QuantizerConfig
from dslnas.spaces.run_config import LightInit
from dslnas.search.points import constraint_values
from dslnas.spaces.space_presets import demo_space

EVIL = "<script>alert('x')</script>"
BUDGETS_MS = (10.0, 11.0, 12.0)
SWEEP_THRESHOLDS = (0.0, 0.1, 0.3, 0.6, 1.0)
PART_MS = {"base": 7.1, "mask": 0.05, "switch": 0.35, "full": 7.24, "light": 2.36}
PARAMS = {"base": 4920, "mask": 0, "switch": 290, "full": 65024, "light": 3104}
FULL_MW, LIGHT_MW = 11.56, 8.47


def tiny_candidate(name: str = "tiny", depth: int = 3, widths: tuple[int, ...] = (4, 4), threshold: float = 0.3,
                   alpha: float = 1.0, beta: float = 1.0) -> CandidateConfig:
    """A candidate small enough to export and time in a second."""
    encoder = EncoderArch(stem_channels=4, block_channels=(4, 8, 8, 16), block_strides=(2, 2, 4, 5), embedding_dim=8)
    dsl = DSLConfig(switch_depth=depth, light_widths=widths, threshold=threshold, alpha=alpha, beta=beta)
    return CandidateConfig(name=name, encoder=encoder, dsl=dsl, quantizer=QuantizerConfig(num_quantizers=2, codebook_size=16))


def make_cost(usage: float, scale: float = 1.0) -> Cost:
    """A priced candidate; ``scale`` multiplies every part's latency."""
    part = {k: v * scale for k, v in PART_MS.items()}
    front = part["base"] + part["mask"] + part["switch"]
    energy = {k: 0.01 * v for k, v in part.items()}
    return Cost(
        profile="a32-paper", unit="a32", light_usage=usage,
        latency_ms=mix(front + part["full"], front + part["light"], usage), power_mw=mix(FULL_MW, LIGHT_MW, usage),
        energy_per_inference_uj=mix(*(1e3 * (0.01 * front + energy[t]) for t in ("full", "light")), usage),
        path_latency_ms=part, path_params=dict(PARAMS), unsupported_ops={},
        path_energy_mj=energy, inferences_per_s=5.0,
        provenance="solved from the paper's Table 1", latency_error_pct=None, mask_sparsity=0.0, sparsity_priced=False,
        flash_kib=PassFigures(287.0, 47.0, 299.7), ram_kib=PassFigures(153.2, 151.4, 153.7),
    )


CLIP_LABELS = ("silence",) * 4 + ("speech",) * 4


def clip_noise(name: str, spread: float) -> tuple[float, ...]:
    """Per-clip ViSQOL offsets of mean exactly zero (one fixed draw per candidate name), for bootstrap intervals."""
    rng = random.Random(name)
    raw = [rng.uniform(-spread, spread) for _ in CLIP_LABELS]
    return tuple(r - sum(raw) / len(raw) for r in raw)


def make_clips(name: str, usage: float, visqol_full: float, visqol_mixed: float, spread: float) -> tuple[ClipScore, ...]:
    """Eight held-out clips whose means are the record's (the full path's noise is the baseline's: same clips)."""
    full, mixed = clip_noise("full", 0.02), clip_noise(name, spread) if usage > 0 else clip_noise("full", 0.02)
    return tuple(ClipScore(f"{label}-{i}", label, 2.0, visqol_full + f, visqol_mixed + m, usage)
                 for i, (label, f, m) in enumerate(zip(CLIP_LABELS, full, mixed)))


def make_record(candidate: CandidateConfig, usage: float, visqol_full: float, visqol_mixed: float,
                checkpoint_artifact: str | None = None, clip_spread: float = 0.04) -> TrialRecord:
    cost = make_cost(usage)
    sweep = tuple(
        SweepPoint(
            threshold=t, light_usage=(u := min(1.0, usage * t / max(candidate.dsl.threshold, 0.1))),
            visqol_mixed=visqol_full - (visqol_full - visqol_mixed) * u / max(usage, 0.1),
            latency_ms=mix(cost.latency_ms.full, cost.latency_ms.light, u).mixed,
            power_mw=mix(cost.power_mw.full, cost.power_mw.light, u).mixed,
            light_usage_per_class={"silence": min(1.0, 1.25 * u), "speech": 0.75 * u}, visqol_mixed_per_class={},
            transitions_per_s=2.0 * u * (1 - u),
        )
        for t in SWEEP_THRESHOLDS
    )
    return TrialRecord(
        candidate=candidate, visqol=PathQuality(visqol_full, visqol_mixed - 0.3, visqol_mixed), light_usage=usage,
        light_usage_per_class={"silence": min(1.0, 1.25 * usage), "speech": 0.75 * usage},
        visqol_per_class={"speech": PathQuality(visqol_full, visqol_mixed - 0.4, visqol_mixed)},
        sparsity=0.4, transitions_per_s=2.0 * usage * (1 - usage), switch=SwitchQuality(0.7, 0.05, 0.8), cost=cost,
        checkpoint="runs/x/trials/00000/checkpoint.pt", sweep=sweep, oracle_sweep=(),
        timing=TrialTiming(30.0, 3.0, 5.0, 0.2), checkpoint_artifact=checkpoint_artifact,
        evaluated={"silence": EvaluatedClass(3, 6.0, ("clicks",)),
                   "speech": EvaluatedClass(11, 22.0, (EVIL, *(f"talker-{k}" for k in range(10))))},
        light_start=LightInit.ELASTIC, visqol_rules=VisqolRules(14, 3, 1),
        clips=make_clips(candidate.name, usage, visqol_full, visqol_mixed, clip_spread),
    )


def add_trial(study: optuna.Study, config: SearchConfig, record: TrialRecord, role: str = "search") -> None:
    params = config.space.params_of(record.candidate)
    dists = config.space.optuna_distributions()
    study.add_trial(create_trial(
        params=params, distributions={k: dists[k] for k in params},
        values=[record.objective_value(o) for o in config.space.objectives],
        user_attrs={**record_attrs(record), **role_attrs(Role(role))},
        constraints=constraint_values(record, config.space.constraints),
    ))


def add_failed(study: optuna.Study, config: SearchConfig, candidate: CandidateConfig, reason: str) -> None:
    params = config.space.params_of(candidate)
    dists = config.space.optuna_distributions()
    study.add_trial(create_trial(state=TrialState.FAIL, params=params, distributions={k: dists[k] for k in params},
                                 user_attrs={**fail_attrs(reason), **role_attrs(Role.SEARCH)}))


def demo_config(name: str, storage: str) -> SearchConfig:
    space = demo_space()
    space = space.model_copy(update={"base": tiny_candidate("paper-ref", 3, (8, 8), 0.3), "switch_depths": (2, 3, 4),
                                     "latency_budgets_ms": BUDGETS_MS,
                                     "sweep_thresholds": SWEEP_THRESHOLDS})
    return SearchConfig(study=name, space=space, storage=storage, profile="a32-paper")  # the records are priced on Table 1


def build_demo_study(storage: str, name: str = "demo-report") -> optuna.Study:
    """The study described in the module docstring, in ``storage`` (a URL)."""
    config = demo_config(name, storage)
    study = optuna.create_study(study_name=name, storage=storage, directions=[o.direction for o in config.space.objectives])
    study.set_user_attr(STUDY_ATTR_CONFIG, json.loads(config.model_dump_json()))
    rows = [
        ("reference", tiny_candidate("paper-ref", 3, (8, 8), 0.3), 0.60, 4.45, 4.40),
        ("baseline", tiny_candidate("paper-ref", 3, (8, 8), 0.0), 0.00, 4.46, 4.46),
        ("search", tiny_candidate("cand-d2", 2, (4, 4, 8), 0.6, 0.3, 0.5), 0.80, 4.42, 4.30),
        ("search", tiny_candidate("cand-d4", 4, (16,), 0.1, 0.12, 2.0), 0.30, 4.43, 4.38),
        ("search", tiny_candidate("cand-thin", 3, (4, 4), 1.0, 8.0, 0.2), 0.90, 4.44, 3.20),
    ]
    for role, cand, usage, full, mixed in rows:
        add_trial(study, config, make_record(cand, usage, full, mixed), role)
    add_failed(study, config, tiny_candidate("cand-nan", 2, (4, 8, 8), 0.5), f"FloatingPointError: loss became nan {EVIL}")
    evil = tiny_candidate("evil", 3, (8, 4), 0.5, 0.5, 1.5).model_copy(update={"name": f"evil-{EVIL}"})  # as older versions stored
    add_trial(study, config, make_record(evil, 0.70, 4.41, 4.35))
    return study


def fake_trial_points(folder: "Path", candidate: CandidateConfig, trial_key: str,
                      usages: tuple[float, ...] = (0.0, 0.4, 0.8)) -> "CandidatePoints":
    """What ``TrialRunner.run`` returns, without training: a fake checkpoint under ``folder/trials/<key>``
    and one point per usage (thresholds 0, 0.5, 1), the middle one the trial's own."""
    from dataclasses import replace

    from dslnas.search.points import CandidatePoints

    checkpoint = folder / "trials" / trial_key / "checkpoint.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_bytes(b"weights")
    points = tuple(replace(make_record(candidate.with_dsl(threshold=t), usage, 4.4, 4.4 - 0.2 * usage),
                           checkpoint=str(checkpoint)) for t, usage in zip((0.0, 0.5, 1.0), usages))
    return CandidatePoints(points, own=1)
