"""bench/search_efficiency_report.py with the mf-scaled variant (low rungs scored on fewer clips): judged
against the full-fidelity samplers like mf, never taken for one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from search_efficiency_report import report  # noqa: E402


def test_mf_scaled_is_judged_as_a_multi_fidelity_search(capsys) -> None:
    histories = {
        ("tpe", 0): [(1, 10.0, 0.5), (2, 20.0, 0.6)],
        ("mf", 0): [(0, 8.0, 0.0), (1, 30.0, 0.6)],
        ("mf-scaled", 0): [(0, 2.0, 0.0), (1, 8.0, 0.7), (2, 12.0, 0.9)],  # the best final: must not be the target
    }
    summary = report(histories, 2)
    capsys.readouterr()
    mf, scaled = summary["goal_multi_fidelity"], summary["goal_multi_fidelity_scaled"]
    assert mf["full_fidelity_best"] == scaled["full_fidelity_best"] == "tpe"
    assert (mf["ratio"], mf["met"]) == (1.5, False)
    assert scaled["mf_cpu_s_to_reach_it"] == 8.0 and scaled["ratio"] == pytest.approx(0.4) and scaled["met"] is True
    assert "goal_multi_fidelity_scaled" not in report({k: v for k, v in histories.items() if k[0] != "mf-scaled"}, 2)


def test_the_random_goal_is_not_judged_without_a_model_based_run(capsys) -> None:
    goal = report({("random", 0): [(1, 1.0, 0.5), (2, 2.0, 0.6), (3, 3.0, 0.7)]}, 3)["goal_model_based_vs_random"]
    capsys.readouterr()
    assert "met" not in goal and goal["random_at_3"] == 0.7 and "no model-based sampler" in goal["note"]


def test_the_table_gives_the_seeds_range_of_the_final_hypervolume_beside_the_median(capsys) -> None:
    histories = {("random", 0): [(1, 5.0, 0.2), (2, 9.0, 0.4)], ("random", 1): [(1, 4.0, 0.3), (2, 8.0, 0.9)],
                 ("random", 2): [(1, 6.0, 0.1), (2, 7.0, 0.5)]}
    row = report(histories, 2)["table"]["random"]
    assert row["final_hv"] == 0.5 and row["final_hv_range"] == (0.4, 0.9)
    assert "0.400..0.900" in capsys.readouterr().out
