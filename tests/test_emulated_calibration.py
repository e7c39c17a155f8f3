"""Calibration on the emulated Cortex-A32 (``unicorn-arm``): deterministic counts, accurate held-out predictions.

Cycle estimates do not vary from run to run (weights seeded per candidate, fixed inputs, a deterministic
scheduling model), so the cross-validated accuracy is a test. The suite is the ``tiny`` one (quick to
export and emulate); its held-out figures with the kernel terms (conv loops, each ELU's measured share of
negative inputs) are exactly (same every run): MAPE 0.87 %, 100 % within 5 % (4 folds); without the kernel
terms 5.30 %. The bounds below leave a margin for a compiler that schedules differently. The standard
40-candidate suite (shipped ``a32-emulated``): MAPE 0.43 %, 100 % within 5 %.
"""

from __future__ import annotations

import pytest

from dslnas.hw_models.c_export.toolchain import ARM_CC, missing_compiler
from dslnas.hw_models.calibrate import CalibrationSettings, calibrated_profile, cross_validate, run_calibration
from dslnas.hw_models.calibration_suite import TINY_RANGES
from dslnas.hw_models.latency_model import KERNEL_TERMS, conv_geometry, kernel_term_counts
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.runners.emulated_arm import EmulatedArmRunner
from dslnas.spaces.presets import candidate_preset

SUITE = 16
MAX_CV_MAPE_PCT = 2.0
MIN_WITHIN_5PCT = 0.9


def test_conv_geometry_recovers_the_paper_presets_shapes() -> None:
    counts = count_candidate(candidate_preset("paper"))
    base = [g for g in conv_geometry(counts.paths["base"].layers) if g is not None]
    assert [(g.c_in, g.c_out, g.k, g.stride) for g in base[:4]] == [(1, 4, 7, 1), (4, 4, 5, 1), (4, 4, 1, 1), (4, 8, 4, 2)]
    full = [g for g in conv_geometry(counts.paths["full"].layers) if g is not None]
    assert [(g.c_in, g.c_out, g.k, g.n_out) for g in full] == [(32, 32, 5, 80), (32, 32, 1, 80), (32, 96, 16, 10), (96, 32, 3, 10)]
    terms = kernel_term_counts(counts.paths["full"].layers)
    assert set(terms) == set(KERNEL_TERMS) and terms["conv.remainder_macs"] == 96 * 32 * 16 * 2 + 32 * 96 * 3 * 2


@pytest.mark.skipif(missing_compiler(ARM_CC) is not None, reason=f"the emulated board needs {missing_compiler(ARM_CC)}")
def test_emulated_calibration_is_deterministic_and_accurate(tmp_path) -> None:
    settings = CalibrationSettings(suite_size=SUITE, folds=4, rounds=1, ranges=TINY_RANGES, kernel_terms=True)
    runner = EmulatedArmRunner(segments=2)
    first = run_calibration(runner, settings, tmp_path / "a")
    again = run_calibration(EmulatedArmRunner(segments=2), settings, tmp_path / "b")
    assert [s.latency_ms for s in first.samples] == [s.latency_ms for s in again.samples]  # exact repeat
    cv, plain = first.cv.headline, cross_validate(list(first.samples), 4, 0, settings.groups, kernel_terms=False).headline
    print(f"\nunicorn-arm tiny suite ({SUITE}): held-out MAPE {cv.mape_pct:.2f} %, within 5 % {cv.within_5pct_share:.0%}, "
          f"within 10 % {cv.within_10pct_share:.0%}; without kernel terms MAPE {plain.mape_pct:.2f} %")
    assert cv.mape_pct <= MAX_CV_MAPE_PCT and cv.within_5pct_share >= MIN_WITHIN_5PCT
    profile = calibrated_profile(first, "emu", runner.description, runner.name, load_profile("a32-paper"),
                                 clock_mhz=runner.clock_mhz, cpi=runner.cpi)
    assert profile.provenance.clock_mhz == 1200.0 and profile.provenance.cycles_per_instruction is None  # cycles
    assert "scheduling model" in profile.provenance.device
    assert profile.provenance.cv_mape_pct == pytest.approx(cv.mape_pct) and "tiny ranges" in profile.provenance.suite
    assert all(key in profile.unit().latency for key in KERNEL_TERMS)


def test_shipped_emulated_profile_states_its_provenance() -> None:
    prov = load_profile("a32-emulated").provenance
    assert prov.runner == "unicorn-arm" and prov.clock_mhz and "cortex-r52 scheduling model" in prov.device
    assert prov.cv_folds and prov.cv_mape_pct is not None and prov.suite


@pytest.mark.skipif(missing_compiler(ARM_CC) is not None, reason=f"the emulated board needs {missing_compiler(ARM_CC)}")
def test_confirm_on_the_emulated_board_adds_the_routed_mixed_run(tmp_path) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from study_fixtures import build_demo_study

    from dslnas.search.confirm import ConfirmSettings, confirm_candidates, confirmed_paths
    from dslnas.search.pareto import compute_pareto_front
    from dslnas.search.records import Comparison

    runner = EmulatedArmRunner(segments=2)
    assert confirmed_paths(runner) == ("full", "light", "mixed")
    study = build_demo_study(f"sqlite:///{tmp_path / 'optuna.db'}")
    point = compute_pareto_front(study).pareto[0]
    settings = ConfirmSettings(tmp_path / "work", profile="a32-emulated", mixed_clips=2, mixed_clip_seconds=0.5)
    entries = confirm_candidates(study, [point], runner, settings)[point.number]
    assert [e.path for e in entries] == ["full", "light", "mixed"]
    assert all(e.ok and e.measured_latency_ms > 0 and e.comparison is Comparison.ABSOLUTE for e in entries)
    mixed = entries[-1]
    usage = mixed.extra["light_usage"]
    assert 0.0 <= usage <= 1.0 and mixed.extra["segments"] == mixed.repeats > 0 and mixed.extra["switch_backs"] >= 0
    assert "checkpoint" in mixed.extra["weights"] and mixed.extra["weights"].startswith("fresh")  # fixture has no file
    assert mixed.measured_latency_ms_p10 <= mixed.extra["median_ms"] <= mixed.measured_latency_ms_p90
    from dslnas.hw_models.cost import ProfileCostModel
    from dslnas.hw_models.counts import Part
    from dslnas.hw_models.routing import RoutingSummary

    routing = mixed.extra["routing"]  # the measured routing: usage, sparsity, the runtime's replays per tail
    replays = {Part(t): v for t, v in routing["replayed_frames_per_s"].items()}
    model = ProfileCostModel(load_profile("a32-emulated"))
    plain = model.predict(point.record.candidate, RoutingSummary(usage, routing["mask_sparsity"]))
    want = model.predict(point.record.candidate, RoutingSummary(usage, routing["mask_sparsity"], replays))
    assert mixed.predicted_latency_ms == pytest.approx(want.latency_ms.mixed)  # priced as routed, replays included
    assert mixed.predicted_energy_uj == pytest.approx(want.energy_per_inference_uj.mixed)
    assert (want.latency_ms.mixed > plain.latency_ms.mixed) == (sum(replays.values()) > 0)
    for e in entries:
        print(f"\n{e.path}: predicted {e.predicted_latency_ms:.4f} ms, measured {e.measured_latency_ms:.4f} ms "
              f"({e.error_pct:+.1f} %) {({k: e.extra[k] for k in ('light_usage', 'switch_backs')} if e.path == 'mixed' else '')}")
    assert stored_paths(study, point.number) == ["full", "light", "mixed"]


def stored_paths(study, number: int) -> list[str]:
    from dslnas.search.records import stored_confirmations

    return [e.path for e in stored_confirmations(study.user_attrs, number)]
