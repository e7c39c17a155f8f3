"""The pair link's fit (``hw_models.pair_calibrate``): time per full segment against the values the mailbox encoded
and the bytes both ways, fitted without emulating anything (fabricated segments)."""

from __future__ import annotations

import pytest

from dslnas.hw_models.pair_calibrate import LinkRow, PairSample, fit_link, link_samples, link_terms
from dslnas.hw_models.runners.pair import PairStandIns
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT, RoutedRun
from dslnas.spaces.errors import UserError

FIXED_MS, MS_PER_VALUE, MS_PER_BYTE = 0.006, 9e-5, 1.5e-5


def _rows() -> list[LinkRow]:
    sizes = [(2040, 8176), (2040, 1444), (1200, 4816), (1200, 3920), (320, 1296), (5760, 11104)]
    return [LinkRow(f"c{i}", v, b, FIXED_MS + MS_PER_VALUE * v + MS_PER_BYTE * b, 0.0) for i, (v, b) in enumerate(sizes)]


def test_the_link_terms_come_back_from_segments_they_generated() -> None:
    fixed, per_value, per_byte = link_terms(_rows())
    assert (fixed, per_value, per_byte) == pytest.approx((FIXED_MS, MS_PER_VALUE, MS_PER_BYTE), rel=1e-6)


def test_sizes_on_one_line_cannot_separate_values_from_bytes() -> None:
    on_a_line = [LinkRow(f"c{i}", v, 4 * v + 16, 0.01 + 1e-4 * v, 0.0) for i, v in enumerate((320, 1200, 2040))]
    with pytest.raises(UserError, match="one line"):
        link_terms(on_a_line)


def _sample(name: str, values: list[int], sent: list[int], cycles: list[float]) -> PairSample:
    paths = tuple(PATH_FULL if v else PATH_LIGHT for v in values)
    extra = {"cycles_per_part": {"encode": cycles, "decode": [c / 2 for c in cycles]},
             "link_bytes_to_full_core": sent, "link_bytes_back": [1280 if v else 0 for v in values],
             "link_floats_to_full_core": values}
    return PairSample(name, None, RoutedRun(paths, tuple(1.0 for _ in paths), extra))  # counts: unused by the link


def test_the_link_is_fitted_on_full_segments_and_its_power_is_the_cores_over_its_time() -> None:
    s = PairStandIns()
    samples = [_sample("a", [2040, 0, 2040], [8176, 0, 1444], [46_000.0, 0.0, 25_000.0]),
               _sample("b", [1200, 1200, 0], [4816, 3920, 0], [29_000.0, 21_000.0, 0.0])]
    rows = link_samples(samples, s)
    assert [(r.candidate, r.values, r.sent_bytes) for r in rows] == [
        ("a", 2040, 9456), ("a", 2040, 2724), ("b", 1200, 6096), ("b", 1200, 5200)]
    link = fit_link(samples, s)
    assert link.per_value_ms >= 0 and link.bandwidth_bytes_per_s > 0
    assert s.m33_active_mw * 0 < link.busy_mw < max(s.m33_active_mw, s.a32_active_mw)
    missing = _sample("old", [2040], [8176], [46_000.0])
    del missing.run.extra["link_floats_to_full_core"]
    with pytest.raises(UserError, match="pair run of old does not say how many values"):
        link_samples([missing], s)
