"""From a calibration run to a device profile: power fitted from measured inference power, the profile with the
fit and its cross-validation in its provenance, written as YAML; and this host in one line.

Split from :mod:`dslnas.hw_models.calibrate` (which measures and fits latency); it re-exports these names.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.optimize import nnls

from dslnas.hw_models.calibration_suite import CalibrationSample
from dslnas.hw_models.latency_model import layer_features
from dslnas.hw_models.profile import ComputeUnit, DeviceProfile, PowerCoefficients, Provenance
from dslnas.spaces.yaml_io import dump_model

if TYPE_CHECKING:
    from dslnas.hw_models.calibrate import CalibrationResult, CalibrationSettings


def fit_power(samples: Sequence[CalibrationSample], static_mw: float) -> PowerCoefficients | None:
    """Power coefficients from measured inference power (active minus idle), or None unless every sample has one.

    Energy per inference above idle = ``power_mw * latency_ms`` is fitted as ``active_mw * latency +
    pj_per_op * ops + pj_per_act_byte * act_bytes + pj_per_weight_byte * weight_bytes`` (non-negative,
    relative error); idle power is not in the measurements, so ``static_mw`` is given.
    """
    if not samples or any(s.power_mw is None for s in samples):
        return None
    rows = np.array([[s.latency_ms * 1e-3, *(sum(f) * 1e-9 for f in zip(*(layer_features(x)[:3] for x in s.layers)))]
                     for s in samples])
    energy_mj = np.array([s.power_mw * s.latency_ms * 1e-3 for s in samples])
    scaled = rows / energy_mj[:, None]
    norm = np.linalg.norm(scaled, axis=0)
    norm[norm == 0] = 1.0
    solution, _ = nnls(scaled / norm, np.ones(len(samples)))
    active_mw, pj_op, pj_act, pj_weight = map(float, solution / norm)
    return PowerCoefficients(static_mw=static_mw, active_mw=active_mw, pj_per_op=pj_op, pj_per_act_byte=pj_act,
                             pj_per_weight_byte=pj_weight)


def calibrated_profile(
    result: "CalibrationResult", name: str, device: str, runner: str, base: DeviceProfile, unit: str = "cpu",
    date: str | None = None, clock_mhz: float | None = None, cpi: float | None = None, suite: str = "",
) -> DeviceProfile:
    """A one-unit profile with the final fit's latency coefficients, the CV figures in its provenance and
    power fitted from measured power when every sample has it, else copied from ``base``'s default unit.

    ``clock_mhz`` / ``cpi``: the clock and cycles per instruction a proxy runner assumed (``unicorn-arm``),
    recorded in the provenance; ``suite``: the suite in words (ranges, size, seed)."""
    base_power = base.unit().power
    power = fit_power(result.samples, base_power.static_mw)
    cv = result.cv.headline
    provenance = Provenance(
        device=device, date=date or datetime.date.today().isoformat(), runner=runner, n_samples=len(result.samples),
        fit_mape_pct=result.fit.mape_pct, fit_within_10pct_share=result.fit.within_10pct_share,
        cv_folds=result.cv.folds, cv_mape_pct=cv.mape_pct, cv_within_5pct_share=cv.within_5pct_share,
        cv_within_10pct_share=cv.within_10pct_share, clock_mhz=clock_mhz, cycles_per_instruction=cpi,
        suite=suite or _suite_words(result.settings), notes=_notes(result, base.name, power is not None),
    )
    compute = ComputeUnit(description=device, clock_mhz=clock_mhz, latency=result.latency, power=power or base_power,
                          c_target=base.unit().c_target)  # the same core: its C builds as the base's does
    return DeviceProfile(name=name, description=f"{device}, calibrated by dslnas calibrate",
                         provenance=provenance, default_unit=unit, units={unit: compute})


def _suite_words(settings: "CalibrationSettings") -> str:
    from dslnas.hw_models.calibration_suite import SuiteKind

    kind = next((k.value for k in SuiteKind if k.ranges == settings.ranges), "custom")
    return f"{kind} ranges, {settings.suite_size} candidates, seed {settings.seed}"


def _notes(result: "CalibrationResult", base: str, power_fitted: bool) -> str:
    s, cv, all_parts = result.settings, result.cv.headline, result.cv.stats()
    power = (f"power fitted from measured inference power (static_mw copied from profile '{base}')" if power_fitted
             else f"power coefficients copied from profile '{base}' (no measured power)")
    terms = " + kernel terms (C conv loops, ELU expf calls)" if s.kernel_terms else ""
    return (f"Latency fitted (relative error, op groups{terms}) on {len(result.samples)} samples ({', '.join(p.value for p in s.parts)}) "
            f"of {result.n_candidates} suite candidates (seed {s.seed}, {s.fmt.value}, fastest of {s.rounds} round(s)); "
            f"{len(result.failures)} artifact(s) skipped. cv_*: {result.cv.folds}-fold CV by held-out candidate on the "
            f"full/light passes (all parts: MAPE {all_parts.mape_pct:.1f} %, {all_parts.within_10pct_share:.0%} within 10 %); "
            f"fit_*: in-sample. Headline CV: MAPE {cv.mape_pct:.1f} %, {cv.within_5pct_share:.0%} within 5 %, "
            f"{cv.within_10pct_share:.0%} within 10 %. {power}.")


def write_profile(profile: DeviceProfile, path: str | Path) -> Path:
    """Write ``profile`` as YAML (what :func:`~dslnas.hw_models.profile.load_profile` reads)."""
    out = Path(path)
    dump_model(profile, out)
    return out


def host_description() -> str:
    """This machine in one line: CPU model, core count, OS and architecture."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            model = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"
