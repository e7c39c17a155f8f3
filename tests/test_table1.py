"""Table 1 predicted from the emulated-A32 profile (one scale on the full pass), not solved from it."""

from __future__ import annotations

import pytest

from dslnas.hw_models.paper_profile import Table1
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import Pass
from dslnas.hw_models.table1 import INSTRUCTION_ERRORS_PCT, PAPER_MIXED_MS, predict_table1


def test_table1_is_predicted_from_the_emulated_profile_with_one_scale() -> None:
    prediction = predict_table1("a32-emulated")
    profile = load_profile("a32-emulated")
    assert prediction.profile_runner == "unicorn-arm" != load_profile("a32-paper").provenance.runner
    assert profile.unit().latency != load_profile("a32-paper").unit().latency  # not the solved coefficients
    assert prediction.row(Pass.FULL).predicted_ms == pytest.approx(Table1().full_latency_ms, rel=1e-9)
    light = prediction.row(Pass.LIGHT)
    assert light.paper_ms == Table1().light_latency_ms and light.predicted_ms > 0
    ratio = prediction.unscaled_light_ms / prediction.unscaled_full_ms
    assert light.predicted_ms == pytest.approx(ratio * Table1().full_latency_ms)  # a prediction, not the paper's figure
    for usage, paper in PAPER_MIXED_MS.items():
        row = prediction.row(Pass.MIXED, usage)
        assert row.paper_ms == paper
        assert row.predicted_ms == pytest.approx(usage * light.predicted_ms + (1 - usage) * Table1().full_latency_ms)
    rows = prediction.to_json()["rows"]
    assert [r["name"] for r in rows] == ["full", "light", "mixed 30% light", "mixed 80% light"]
    assert [r["error_pct_instructions_cpi1"] for r in rows] == [INSTRUCTION_ERRORS_PCT[r.key] for r in prediction.rows]
    assert "Cortex-R52 scheduling model" in profile.provenance.device or "cortex-r52" in profile.provenance.device
    print()
    for row in prediction.rows:
        print(f"{row.name:>16}: predicted {row.predicted_ms:6.2f} ms, paper {row.paper_ms:5.2f} ms, error {row.error_pct:+6.1f} %")


def test_the_solved_profile_reproduces_table1_by_construction() -> None:
    solved = predict_table1("a32-paper")
    assert solved.scale == pytest.approx(1.0, rel=1e-3)
    assert solved.row(Pass.LIGHT).error_pct == pytest.approx(0.0, abs=0.1)
    assert "SOLVED FROM TABLE 1" in load_profile("a32-paper").provenance.notes
