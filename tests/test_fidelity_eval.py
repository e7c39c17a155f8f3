"""A cheaper evaluation at low multi-fidelity rungs (``low_rung_eval: scaled``): fewer clips and thresholds
below the last rung, the default unchanged, old stored schedules still matching, and a scaled low rung's
points still kept off the front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from dslnas.search.config import SearchConfig
from dslnas.search.fidelity_config import FidelityConfig, LowRungEval
from dslnas.search.fidelity_eval import evaluation_plan, rung_clips, spread
from dslnas.search.fidelity_state import STUDY_ATTR_SCHEDULE, claim_schedule
from dslnas.spaces.errors import UserError
from dslnas.spaces.space_presets import load_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


@dataclass(frozen=True)
class FakeClip:
    clip_id: str
    label: str


CLIPS = [FakeClip(f"{label}-{i}", label) for i in range(10) for label in ("speech", "silence")] + [FakeClip("noise-0", "noise")]
SCALED = FidelityConfig(rungs_steps=(3, 10, 30), low_rung_eval=LowRungEval.SCALED, low_rung_min_clips=2, low_rung_sweep_points=4)


def test_a_low_rung_scores_a_share_of_each_class_at_least_the_minimum() -> None:
    chosen = rung_clips(CLIPS, 0.1, 2)
    per_class = {label: [c.clip_id for c in chosen if c.label == label] for label in ("speech", "silence", "noise")}
    assert per_class == {"speech": ["speech-0", "speech-9"], "silence": ["silence-0", "silence-9"], "noise": ["noise-0"]}
    assert [c for c in CLIPS if c in chosen] == chosen  # order kept
    assert len(rung_clips(CLIPS, 1 / 3, 2)) == 4 + 4 + 1 and rung_clips(CLIPS, 1.0, 2) == CLIPS
    assert spread(list(range(7)), 3) == [0, 3, 6] and spread([5], 4) == [5]


def test_scaled_evaluates_less_below_the_last_rung_only() -> None:
    clips, sweep = evaluation_plan(SCALED, 3, 30, CLIPS, ())
    assert len(clips) < len(CLIPS) and sweep == {"sweep_thresholds": (), "sweep_quantiles": (0.0, 1 / 3, 2 / 3, 1.0)}
    clips, sweep = evaluation_plan(SCALED, 10, 30, CLIPS, (0.0, 0.1, 0.3, 0.6, 1.0, 2.0))
    assert len(clips) == 9 and sweep == {"sweep_thresholds": (0.0, 0.3, 0.6, 2.0)}  # indices 0, 2, 3, 5
    assert evaluation_plan(SCALED, 30, 30, CLIPS, (0.5,)) == (CLIPS, {"sweep_thresholds": (0.5,)})


@pytest.mark.parametrize("fidelity", [None, FidelityConfig(rungs_steps=(3, 10, 30))])
def test_the_default_scores_every_rung_as_a_full_fidelity_search(fidelity: FidelityConfig | None) -> None:
    assert evaluation_plan(fidelity, 3, 30, CLIPS, (0.1, 0.2)) == (CLIPS, {"sweep_thresholds": (0.1, 0.2)})


def test_a_schedule_stored_before_the_option_existed_still_matches(tmp_path: Path) -> None:
    default = FidelityConfig(rungs_steps=(1, 2), eta=2, bracket_size=4)
    assert default.model_dump(mode="json") == {"rungs_steps": [1, 2], "eta": 2, "bracket_size": 4}
    config = SearchConfig(study="s", space=load_space(str(TINY_SPACE)), trials=1, runs_root=str(tmp_path), fidelity=default)
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.set_user_attr(STUDY_ATTR_SCHEDULE, {"rungs_steps": [1, 2], "eta": 2, "bracket_size": 4})
    claim_schedule(study, config)  # no error: the same schedule
    scaled = config.model_copy(update={"fidelity": default.model_copy(update={"low_rung_eval": LowRungEval.SCALED})})
    with pytest.raises(UserError, match="runs brackets with fidelity"):
        claim_schedule(study, scaled)
    assert SearchConfig.model_validate_json(scaled.model_dump_json()).fidelity.low_rung_eval is LowRungEval.SCALED


@pytest.mark.slow
def test_a_scaled_low_rung_scores_fewer_clips_and_thresholds_and_stays_off_the_front_and_export(tmp_path: Path) -> None:
    from dslnas.search.export import export_run_config
    from dslnas.search.fidelity_state import rung_results
    from dslnas.search.pareto import compute_pareto_front
    from dslnas.search.records import record_from_trial
    from dslnas.search.run import run_search

    space = load_space(str(TINY_SPACE))
    data = space.finetune.data.model_copy(update={"demo_clips": 8})  # 4 held out: 2 a class, so a share can cut
    fidelity = FidelityConfig(rungs_steps=(1, 2), eta=2, bracket_size=2, low_rung_eval=LowRungEval.SCALED,
                              low_rung_min_clips=1, low_rung_sweep_points=2)
    config = SearchConfig(study="scaled", space=space, trials=2, runs_root=str(tmp_path / "runs"), data=data,
                          storage=f"sqlite:///{tmp_path / 'study.db'}", fidelity=fidelity)
    run_search(config)
    study = optuna.load_study(study_name="scaled", storage=config.storage)
    low = [record_from_trial(t) for t in rung_results(study, 0, 0).values()]
    [full] = [record_from_trial(t) for t in rung_results(study, 0, 1).values()]
    clips = lambda record: sum(c.clips for c in record.evaluated.values())  # noqa: E731
    assert len(low) == 2 and all(r.low_fidelity and r.fidelity_steps == 1 for r in low)
    assert all(clips(r) < clips(full) and len(r.sweep) < len(full.sweep) for r in low)
    assert len(full.sweep) == len(space.sweep_thresholds)  # the last rung: the whole sweep
    front = compute_pareto_front(study)
    low_numbers = {t.number for t in rung_results(study, 0, 0).values()}
    assert front.pareto and not low_numbers & {p.trained_trial for p in front.points}
    with pytest.raises(UserError, match="low-fidelity rung"):
        export_run_config(study, min(low_numbers))
