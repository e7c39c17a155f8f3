"""bench/rung_correlation.py: per-rung rank correlation of low- against full-fidelity scores, read from
multi-fidelity studies built by hand (no training)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from dslnas.search.fidelity_state import STUDY_ATTR_SCHEDULE, Bracket, fidelity_attrs, save_bracket
from dslnas.search.records import Role, role_attrs

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
from rung_correlation import curve_scores, main, mf_study, rung_ranks, study_rungs, summarise, summary  # noqa: E402

STEPS = (1, 3, 9)


def _result(study: optuna.Study, rung: int, lineage: int, quality: float, infeasible_extra: bool = False,
            sweep: bool = True) -> None:
    """A rung result (visqol ``quality`` at 10 ms) with (``sweep``) one feasible sweep point 0.5 worse at 8 ms."""
    study.add_trial(create_trial(values=[quality, 10.0], user_attrs={**role_attrs(Role.SEARCH), **fidelity_attrs(0, rung, lineage)},
                                 constraints={"max_latency_ms": -1.0}, params={"x": 0.5}, distributions={"x": FloatDistribution(0, 1)}))
    parent = study.trials[-1].number
    if sweep:
        study.add_trial(create_trial(values=[quality - 0.5, 8.0], user_attrs=role_attrs(Role.SWEEP, parent),
                                     constraints={"max_latency_ms": -1.0}))
    if infeasible_extra:  # would dominate everything, but breaks a constraint: never scored
        study.add_trial(create_trial(values=[99.0, 0.1], user_attrs=role_attrs(Role.SWEEP, parent), constraints={"max_latency_ms": 1.0}))


def build(storage: str | None, name: str, full_order: list[float], sweep: bool = True) -> optuna.Study:
    """``len(full_order) + 2`` lineages at rung 0 (quality rising with the lineage), the best
    ``len(full_order)`` at rung 1 (same order) and at rung 2 (``full_order``)."""
    study = optuna.create_study(study_name=name, storage=storage, directions=["maximize", "minimize"])
    study.set_user_attr(STUDY_ATTR_SCHEDULE, {"rungs_steps": list(STEPS), "eta": 3, "bracket_size": 6})
    lineages = list(range(100, 102 + len(full_order)))
    for k, lineage in enumerate(lineages):
        _result(study, 0, lineage, 1.0 + k, infeasible_extra=k == 0, sweep=sweep)
    for k, lineage in enumerate(lineages[2:]):
        _result(study, 1, lineage, 3.0 + k, sweep=sweep)
        _result(study, 2, lineage, full_order[k], sweep=sweep)
    save_bracket(study, Bracket(0, tuple(lineages), {n: {"x": 0.5} for n in lineages},
                                (tuple(reversed(lineages)), tuple(reversed(lineages[2:]))),
                                (tuple(lineages[2:]), tuple(lineages[2:]))))
    return study


def test_scores_are_own_curve_hypervolumes_on_one_scale() -> None:
    low = {1: ((-1.0, 10.0),), 2: ((-3.0, 10.0),)}
    high = {1: ((-2.0, 10.0),), 2: ((-2.0, 10.0),), 3: ((-9.0, 1.0),)}
    scores = curve_scores(low, high)
    assert set(scores) == {1, 2}  # lineage 3 has no low-rung result
    assert scores[2][0] > scores[1][0] and scores[1][1] == scores[2][1] > scores[1][0]


def test_per_rung_rows_against_full_fidelity_and_the_next_rung() -> None:
    rungs = study_rungs(build(None, "reversed", full_order=[4.0, 3.0, 2.0, 1.0]))
    assert {r: len(v) for r, v in rungs.items()} == {0: 6, 1: 4, 2: 4}
    assert all(len(points) == 2 for points in rungs[0].values())  # the infeasible sweep point is left out
    rows = {(r.rung, r.against): r for r in rung_ranks("reversed", rungs, STEPS)}
    assert set(rows) == {(0, 2), (0, 1), (1, 2)}
    assert (rows[0, 2].n, rows[0, 1].n, rows[1, 2].n) == (4, 4, 4)
    assert rows[0, 1].spearman == pytest.approx(1.0)  # rungs 0 and 1 agree
    assert rows[0, 2].spearman == pytest.approx(-1.0) and rows[1, 2].spearman == pytest.approx(-1.0)
    assert rows[0, 2].steps == 1 and "vs full fidelity" in rows[0, 2].text(2)


def test_the_summary_pools_studies_and_prints_per_rung(capsys) -> None:
    studies = [mf_study(build(None, "a", full_order=[1.0, 2.0, 3.0])), mf_study(build(None, "b", full_order=[3.5, 1.5, 2.5]))]
    data = summarise(studies)
    out = capsys.readouterr().out
    assert "a: rung 0 (1 steps) vs full fidelity: Spearman +1.00, n = 3" in out
    assert "b: rung 0 (1 steps) vs full fidelity: Spearman -0.50, n = 3" in out
    assert data["rungs_steps"] == list(STEPS) and set(data["stored_by_search"]) == {"a", "b"}
    pooled = [r for r in data["rows"] if r["study"] == "pooled"]
    assert [(r["rung"], r["against"], r["n"]) for r in pooled] == [(0, 2, 6), (0, 1, 6), (1, 2, 6)]
    assert pooled[1]["spearman"] == pytest.approx(1.0) and 0 < pooled[0]["spearman"] < 1


def test_the_command_reads_only_multi_fidelity_studies_under_the_root(tmp_path: Path, monkeypatch) -> None:
    storage = f"sqlite:///{tmp_path / 'mf.db'}"
    optuna.create_study(study_name="sh", storage=storage).set_user_attr(STUDY_ATTR_SCHEDULE, {"rungs_steps": [2, 6]})
    optuna.create_study(study_name="full-fidelity", storage=storage)  # no schedule: not read
    monkeypatch.setattr(sys, "argv", ["rung_correlation.py", "--runs-root", str(tmp_path), "--json", str(tmp_path / "rc.json")])
    main()
    data = json.loads((tmp_path / "rc.json").read_text())
    assert list(data["stored_by_search"]) == ["sh"] and data["rungs_steps"] == [2, 6]
    assert data["rows"] == [{"study": "sh", "rung": 0, "steps": 2, "against": 1, "n": 0, "spearman": None}]
    assert summary(tmp_path / "nowhere") == {}
