"""The report's search history (hypervolume per trained candidate, depths and widths tried) and the search
efficiency bench's table, goals and curves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dslnas.search.pareto import compute_pareto_front
from dslnas.search.report.history import candidate_history, history_caption, history_figure, history_png, knobs_tried
from dslnas.search.report.metrics import hypervolume_history
from study_fixtures import build_demo_study

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))
from search_efficiency_report import cpu_to_reach, hv_at, report, write_png  # noqa: E402


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory):
    return compute_pareto_front(build_demo_study(f"sqlite:///{tmp_path_factory.mktemp('h') / 'o.db'}"))


def test_one_step_per_trained_candidate_and_the_last_is_the_studys_hypervolume(front) -> None:
    steps = candidate_history(front)
    trained = sorted(p.number for p in front.points if p.role.trained)
    assert [s.trial for s in steps] == trained
    volumes = [s.hypervolume for s in steps]
    assert volumes == sorted(volumes) and volumes[-1] > 0
    assert volumes[-1] == pytest.approx(hypervolume_history(front)[-1].hypervolume)


def test_the_depths_and_widths_tried_are_counted_per_trained_candidate(front) -> None:
    steps = candidate_history(front)
    tried = knobs_tried(steps)
    depths = [p.knobs["switch_depth"] for p in front.points if p.role.trained]
    assert tried["switch_depth"] == {d: depths.count(d) for d in set(depths)}
    caption = history_caption(steps)
    assert all(f"depth {d}: {n}" in caption for d, n in tried["switch_depth"].items())


def test_the_history_renders_in_both_figures(front, tmp_path: Path) -> None:
    steps = candidate_history(front)
    fig = history_figure(steps)
    assert list(fig.data[0].y) == [s.hypervolume for s in steps]
    history_png(steps).savefig(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000


def _rows(volumes: list[float], cpu_per: float) -> list[tuple[int, float, float]]:
    return [(i + 1, cpu_per * (i + 1), v) for i, v in enumerate(volumes)]


def test_the_bench_report_prints_its_table_judges_both_goals_and_draws(tmp_path: Path, capsys) -> None:
    histories = {
        ("random", 0): _rows([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 10.0),
        ("tpe", 0): _rows([0.1, 0.7, 0.7, 0.8, 0.8, 0.9], 10.0),
        ("gp", 0): _rows([0.1, 0.2, 0.2, 0.2, 0.3, 0.3], 10.0),
        ("mf", 0): [(0, 5.0, 0.5), (1, 12.0, 0.8), (2, 25.0, 0.95)],
    }
    summary = report(histories, 6)
    table = capsys.readouterr().out
    assert table.splitlines()[0].split(" | ") == ["sampler", "seeds", "HV@1", "HV@2", "HV@4", "HV@6",
                                                  "final HV, seeds' range", "CPU-s"]
    assert "tpe | 1 | 0.100 | 0.700 | 0.800 | 0.900 | 0.900..0.900 | 60" in table
    goal = summary["goal_model_based_vs_random"]
    assert (goal["n"], goal["best"], goal["met"]) == (2, "tpe", True)  # tpe@2 0.7 >= random@6 0.6
    mf = summary["goal_multi_fidelity"]
    assert (mf["full_fidelity_best"], mf["its_cpu_s"], mf["mf_cpu_s_to_reach_it"]) == ("tpe", 60.0, 25.0)
    assert mf["met"] is True and mf["ratio"] == pytest.approx(25 / 60, abs=1e-3)
    write_png(histories, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 1000


def test_a_run_short_of_a_checkpoint_or_a_target_is_none_not_zero() -> None:
    rows = _rows([0.2, 0.4], 3.0)
    assert hv_at(rows, 3) is None and hv_at(rows, 2) == 0.4
    assert cpu_to_reach(rows, 0.5) is None and cpu_to_reach(rows, 0.3) == 6.0


@pytest.mark.slow
def test_a_tiny_bench_run_prints_its_table_and_writes_the_png(tmp_path: Path) -> None:
    png = tmp_path / "eff.png"
    done = subprocess.run([sys.executable, str(BENCH / "search_efficiency.py"), "--samplers", "random", "--seeds", "0",
                           "--max-candidates", "2", "--steps", "2", "--png", str(png)],
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0].startswith("sampler | seeds | HV@1 | HV@2 | final HV, seeds' range | CPU-s")
    assert png.stat().st_size > 1000
