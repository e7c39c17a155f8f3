"""The multi-fidelity search end to end on the tiny space (Optuna backend): Pareto promotion, training
continued from the rung checkpoint, low-fidelity points kept off the front, a stopped driver resuming its rung."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from dslnas.search import fidelity_run
from dslnas.search import trial as trial_module
from dslnas.search.config import SearchConfig
from dslnas.search.fidelity import FidelityConfig, promote
from dslnas.search.fidelity_state import curve_of, rung_results, stored_brackets
from dslnas.search.pareto import compute_pareto_front
from dslnas.search.records import record_from_trial
from dslnas.search.run import run_search
from dslnas.spaces.space_presets import load_space
from dslnas.trainers.checkpoint import load_checkpoint

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"
pytestmark = pytest.mark.slow
REAL_RUN = trial_module.TrialRunner.run  # before any test wraps it


def sh_config(tmp_path: Path) -> SearchConfig:
    """Reference + one bracket of 4 candidates at 1 step, the best 2 (Pareto) continued to the space's 2 steps."""
    return SearchConfig(study="sh", space=load_space(str(TINY_SPACE)), trials=3, runs_root=str(tmp_path / "runs"),
                        storage=f"sqlite:///{tmp_path / 'study.db'}",
                        fidelity=FidelityConfig(rungs_steps=(1, 2), eta=2, bracket_size=4))


def test_rungs_promote_by_pareto_order_continue_training_and_stay_off_the_front(tmp_path: Path) -> None:
    config = sh_config(tmp_path)
    outcome = run_search(config)
    assert outcome.after.complete == 3  # the reference and the bracket's 2 finalists, fully fine-tuned
    study = optuna.load_study(study_name="sh", storage=config.storage)
    [bracket] = stored_brackets(study)
    first, final = rung_results(study, 0, 0), rung_results(study, 0, 1)
    assert set(first) == set(bracket.members) and len(first) == 4
    curves = [curve_of(study, config, t, k) for k, t in sorted(first.items())]
    assert list(bracket.promoted[0]) == promote(curves, config.fidelity) and set(final) == set(bracket.promoted[0])
    for lineage, trial in final.items():
        low, full = record_from_trial(first[lineage]), record_from_trial(trial)
        assert low.fidelity_steps == 1 and full.fidelity_steps is None
        before, after = load_checkpoint(low.checkpoint), load_checkpoint(full.checkpoint)
        assert (before.step, after.step) == (1, 2) and after.loss_history[:1] == before.loss_history  # continued
    front = compute_pareto_front(study)
    assert front.pareto and all(not p.record.low_fidelity for p in front.points)
    low_numbers = {t.number for t in first.values()}
    assert not low_numbers & {p.trained_trial for p in front.points}
    assert low_numbers <= {u.number for u in front.unfinished}
    [row] = outcome.rank_correlation
    assert (row.rung, row.steps, row.candidates) == (0, 1, 2)  # 2 finalists: too few for a Spearman (NaN)


def _count_jobs(monkeypatch: pytest.MonkeyPatch, calls: list[tuple[str, int | None]], stop_at: int | None = None) -> None:
    real = REAL_RUN

    def counted(self, candidate, key, steps=None, start_from=None):  # noqa: ANN001
        calls.append((key, steps))
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt  # the driver is killed mid-trial
        return real(self, candidate, key, steps, start_from)

    monkeypatch.setattr(trial_module.TrialRunner, "run", counted)


def test_a_driver_stopped_after_the_first_rung_resumes_without_rerunning_it(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = sh_config(tmp_path)
    calls: list[tuple[str, int | None]] = []
    _count_jobs(monkeypatch, calls)
    real_promote = fidelity_run.promote

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # stopped once the first rung's results are stored, before its decision

    monkeypatch.setattr(fidelity_run, "promote", killed)
    with pytest.raises(KeyboardInterrupt):
        run_search(config)
    assert sum(steps == 1 for _, steps in calls) == 4
    monkeypatch.setattr(fidelity_run, "promote", real_promote)
    calls.clear()
    assert run_search(config).after.complete == 3
    assert [steps for _, steps in calls] == [2, 2]  # only the promoted two, at the last rung
    study = optuna.load_study(study_name="sh", storage=config.storage)
    assert {k.split("-")[0] for k, _ in calls} == {f"{n:05d}" for n in stored_brackets(study)[0].promoted[0]}


def test_a_driver_killed_mid_rung_loses_no_finished_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = sh_config(tmp_path)
    calls: list[tuple[str, int | None]] = []
    _count_jobs(monkeypatch, calls, stop_at=3)  # reference, first member, then killed inside the second
    with pytest.raises(KeyboardInterrupt):
        run_search(config)
    kept = calls[1][0]
    calls.clear()
    _count_jobs(monkeypatch, calls)
    assert run_search(config).after.complete == 3
    first_rung = [k for k, steps in calls if steps == 1]
    assert len(first_rung) == 3 and kept not in first_rung  # the finished member is not trained again
    study = optuna.load_study(study_name="sh", storage=config.storage)
    assert len(rung_results(study, 0, 0)) == 4  # the orphans' results were added, each once
