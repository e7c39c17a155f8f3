"""Fit a two-core profile (``a32-m33-pair``) on routed runs of the ``unicorn-pair`` runner.

Each unit is fitted like ``dslnas calibrate`` fits one (``calibrate.fit_latency``: per op group, the C conv
kernel terms, relative error, non-negative) on the parts it ran in the pair runs: ``m33`` on each run's
front (base + mask + switch, median over segments) and light tail (median over light segments that follow a
light one: no replay), ``a32`` on the full tail (median over full segments that follow a full one); and
cross-validated by candidate. The link is fitted through the full segments' encode + decode + doorbells ms:
``2 * per_transfer_ms + values * per_value_ms + bytes / bandwidth`` (``values``: what the mailbox encoded,
zeros included: the M33 scans each one whatever it sends; ``bytes``: both ways); the cores' power over that
time is ``busy_mw``. Power, the wake-up and the doorbell
are the runner's datasheet stand-ins (``runners.pair.PairStandIns``), copied in and labelled.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import numpy as np

from dslnas.hw_models.c_export.pair import MAILBOX_HEADER_BYTES
from dslnas.hw_models.calibrate import CrossValidation, candidate_folds, cross_validate, fit_latency
from dslnas.hw_models.calibration_suite import CalibrationSample
from dslnas.hw_models.counts import FRONT_PARTS, EncoderCounts, Part
from dslnas.hw_models.latency_model import FitStats, fit_stats
from dslnas.hw_models.profile import (
    ComputeUnit, DeviceProfile, LinkSpec, OpLatency, PinnedPlacement, PowerCoefficients, Provenance,
)
from dslnas.hw_models.runners.pair import PairStandIns
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT, RoutedRun
from dslnas.spaces.errors import UserError

PAIR_PROFILE = "a32-m33-pair"


@dataclass(frozen=True)
class PairSample:
    """One candidate's counted parts and one routed pair run of it (``name``: the candidate, CV folds by it)."""

    name: str
    counts: EncoderCounts
    run: RoutedRun


class Timing(str, enum.Enum):
    """What a pair run's parts are timed by: the cycles estimated on each core's machine model, or the older
    proxy, executed instructions at CPI 1 (kept beside the cycles in every run)."""

    CYCLES = "cycles_per_part"
    INSTRUCTIONS_CPI1 = "instructions_per_part"


def _median_ms(run: RoutedRun, parts: tuple[str, ...], path: int | None, clock_mhz: float, steady: bool = False,
               timing: Timing = Timing.CYCLES) -> float:
    """Median over the run's segments (of ``path``; ``steady``: whose previous segment took it too) of the
    parts' cycles (or instructions) / clock in ms; NaN when no segment qualifies."""
    per_part = run.extra[timing.value]
    rows = [i for i, p in enumerate(run.paths) if (path is None or p == path)
            and (not steady or (i > 0 and run.paths[i - 1] == p))]
    if not rows:
        return float("nan")
    return float(np.median([sum(per_part[q][i] for q in parts) for i in rows])) / (clock_mhz * 1e3)


def unit_samples(samples: list[PairSample], s: PairStandIns,
                 timing: Timing = Timing.CYCLES) -> dict[str, list[CalibrationSample]]:
    """Per unit (``m33``, ``a32``), one calibration sample per part each run measured on it."""
    out: dict[str, list[CalibrationSample]] = {"m33": [], "a32": []}
    for sample in samples:
        name, paths = sample.name, sample.counts.paths
        front = _median_ms(sample.run, ("front",), None, s.m33_clock_mhz, timing=timing)
        out["m33"].append(CalibrationSample(name, "front", tuple(l for p in FRONT_PARTS for l in paths[p].layers), front))
        for unit, part, parts, path, clock in (("m33", Part.LIGHT_TAIL, ("light",), PATH_LIGHT, s.m33_clock_mhz),
                                               ("a32", Part.FULL_TAIL, ("full",), PATH_FULL, s.a32_clock_mhz)):
            ms = _median_ms(sample.run, parts, path, clock, steady=True, timing=timing)
            if np.isfinite(ms):
                out[unit].append(CalibrationSample(name, part.value, paths[part].layers, ms))
    for unit, rows in out.items():
        if len({r.candidate for r in rows}) < 2:
            raise UserError(f"the pair calibration needs runs of >= 2 candidates with steady {unit} parts")
    return out


def unit_accuracy(samples: list[PairSample], s: PairStandIns, folds: int = 5,
                  timing: Timing = Timing.CYCLES) -> dict[str, tuple[dict[str, OpLatency], FitStats, CrossValidation]]:
    """Per unit: the coefficients fitted on all its parts, that fit's in-sample figures, and the k-fold
    cross-validation by candidate."""
    out = {}
    for unit, rows in unit_samples(samples, s, timing).items():
        coefficients, stats = fit_latency(rows, kernel_terms=True)
        out[unit] = (coefficients, stats,
                     cross_validate(rows, min(folds, len({r.candidate for r in rows})), kernel_terms=True))
    return out


def link_accuracy(samples: list[PairSample], s: PairStandIns, folds: int = 5, timing: Timing = Timing.CYCLES) -> FitStats:
    """The link model's k-fold cross-validation by candidate: each full segment's encode + decode + doorbells
    predicted by the model fitted on the other folds' candidates."""
    rows = link_samples(samples, s, timing)
    predicted, measured = [], []
    for held_out in candidate_folds([r.candidate for r in rows], min(folds, len({r.candidate for r in rows}))):
        fixed_ms, ms_per_value, ms_per_byte = link_terms([r for r in rows if r.candidate not in held_out])
        for r in (r for r in rows if r.candidate in held_out):
            predicted.append(fixed_ms + ms_per_value * r.values + ms_per_byte * r.sent_bytes)
            measured.append(r.ms)
    return fit_stats(np.array(predicted), np.array(measured))


def fit_units(samples: list[PairSample], s: PairStandIns, folds: int = 5) -> dict[str, tuple[dict[str, OpLatency], str]]:
    """Per unit: the fitted coefficients and a line saying how well they fit (in-sample and k-fold by candidate)."""
    fitted = {}
    for unit, (coefficients, stats, cv) in unit_accuracy(samples, s, folds).items():
        held_out = cv.stats()
        fitted[unit] = (coefficients, f"{unit}: {held_out.n_samples} parts, in-sample MAPE {stats.mape_pct:.1f}%; {cv.folds}-fold "
                                      f"CV by candidate MAPE {held_out.mape_pct:.1f}%, "
                                      f"{100 * held_out.within_5pct_share:.0f}% within 5%")
    return fitted


@dataclass(frozen=True)
class LinkRow:
    """One full segment's message: the values it encoded (zeros included), the bytes both ways, the encode +
    decode + doorbells time and the cores' energy over the encode and decode."""

    candidate: str
    values: int
    sent_bytes: int
    ms: float
    busy_uj: float


def link_samples(samples: list[PairSample], s: PairStandIns, timing: Timing = Timing.CYCLES) -> list[LinkRow]:
    """Per full segment of each run, its :class:`LinkRow`."""
    rows = []
    for sample in samples:
        parts, extra = sample.run.extra[timing.value], sample.run.extra
        if "link_floats_to_full_core" not in extra:
            raise UserError(f"pair run of {sample.name} does not say how many values its mailbox encoded "
                            "(a run from before the link counted them): run it again")
        for i, path in enumerate(sample.run.paths):
            if path == PATH_FULL:
                if extra["link_floats_to_full_core"][i] <= 0:
                    raise UserError(f"pair run of {sample.name}: a full segment's mailbox encoded no values")
                encode_ms = parts["encode"][i] / (s.m33_clock_mhz * 1e3)
                decode_ms = parts["decode"][i] / (s.a32_clock_mhz * 1e3)
                rows.append(LinkRow(sample.name, extra["link_floats_to_full_core"][i],
                                    extra["link_bytes_to_full_core"][i] + extra["link_bytes_back"][i],
                                    encode_ms + decode_ms + 2 * s.doorbell_ms,
                                    s.m33_active_mw * encode_ms + s.a32_active_mw * decode_ms))
    return rows


def link_terms(rows: list[LinkRow]) -> tuple[float, float, float]:
    """``(fixed ms, ms per value, ms per byte)`` fitted through ``rows`` by non-negative least squares;
    UserError when the rows cannot separate them or the fit has no cost per byte."""
    from scipy.optimize import nnls

    design = np.array([[1.0, r.values, r.sent_bytes] for r in rows]).reshape(-1, 3)
    if np.linalg.matrix_rank(design) < 3:
        raise UserError("fitting the link needs full segments whose (values, bytes) do not lie on one line")
    measured = np.array([r.ms for r in rows])
    scale = design.max(axis=0)  # columns of like size for the solver
    coef, _ = nnls(design / scale, measured)
    fixed_ms, ms_per_value, ms_per_byte = (float(c) for c in coef / scale)
    if not ms_per_byte > 0:
        raise UserError(f"the link fit is not physical: {ms_per_byte:.3g} ms/byte (fixed {fixed_ms:.3g} ms, "
                        f"{ms_per_value:.3g} ms/value)")
    return fixed_ms, ms_per_value, ms_per_byte


def fit_link(samples: list[PairSample], s: PairStandIns) -> LinkSpec:
    """The link fitted on the full segments: encode + decode + doorbells ms against the values each message
    encoded and the bytes both ways; ``busy_mw``: the cores' encode + decode energy over that time."""
    rows = link_samples(samples, s)
    fixed_ms, ms_per_value, ms_per_byte = link_terms(rows)
    return LinkSpec(description="shared-SRAM mailbox: M33 encodes (sparse when smaller), A32 decodes, a doorbell "
                                "interrupt each way (fitted on emulated runs: a fixed part per transfer, a part per "
                                "value scanned, a part per byte sent; doorbell, pJ/byte and core power: datasheet "
                                "stand-ins)",
                    bandwidth_bytes_per_s=1e3 / ms_per_byte, per_transfer_ms=fixed_ms / 2, per_value_ms=ms_per_value,
                    pj_per_byte=s.link_pj_per_byte, busy_mw=sum(r.busy_uj for r in rows) / sum(r.ms for r in rows),
                    header_bytes=MAILBOX_HEADER_BYTES)


def _completed(own: dict[str, OpLatency], other: dict[str, OpLatency], clock_ratio: float) -> dict[str, OpLatency]:
    """``own`` plus the op types only ``other`` was fitted on, scaled by ``clock_ratio`` (other's clock / own's):
    a unit must price every part (``placement.path_latencies_ms``), though the pinned placement never runs
    those parts on it."""
    borrowed = {op: OpLatency(**{k: v * clock_ratio for k, v in c.model_dump().items()})
                for op, c in other.items() if op not in own}
    return dict(sorted({**own, **borrowed}.items()))


def fit_pair_profile(samples: list[PairSample], s: PairStandIns = PairStandIns(), folds: int = 5,
                     skips_zero_inputs: bool = False, suite: str = "tiny") -> DeviceProfile:
    """The calibrated pair profile: ``m33`` (always-on: front, light tail) and ``a32`` (full tail), the link.

    ``skips_zero_inputs``: the runs were of exports that skip the mask's zeros in each tail's first conv, and
    the samples' counts say so (``placement.with_sparse_tail_inputs`` at each run's sparsity): both units
    then price alpha in cycles (profile ``a32-m33-pair-skip``). The default unit (a one-unit price) is the
    A32: the application core can run the whole encoder on its own; the M33 is pinned to the front. ``suite``:
    which pair suite the runs are of (``pair_suite.PairSuite``), stored in the provenance."""
    fitted = fit_units(samples, s, folds)
    ratio = s.m33_clock_mhz / s.a32_clock_mhz
    fitted = {"m33": (_completed(fitted["m33"][0], fitted["a32"][0], 1 / ratio), fitted["m33"][1]),
              "a32": (_completed(fitted["a32"][0], fitted["m33"][0], ratio), fitted["a32"][1])}
    m33 = ComputeUnit(description=f"emulated Cortex-M33 @ {s.m33_clock_mhz:g} MHz (Thumb-2, FPv5-SP), always on",
                      clock_mhz=s.m33_clock_mhz, latency=fitted["m33"][0], skips_zero_inputs=skips_zero_inputs,
                      power=PowerCoefficients(static_mw=s.m33_static_mw, active_mw=s.m33_active_mw))
    a32 = ComputeUnit(description=f"emulated Cortex-A32 @ {s.a32_clock_mhz:g} MHz, asleep between full segments",
                      clock_mhz=s.a32_clock_mhz, latency=fitted["a32"][0], wake_ms=s.wake_ms, wake_uj=s.wake_uj,
                      skips_zero_inputs=skips_zero_inputs,
                      power=PowerCoefficients(static_mw=s.a32_static_mw, active_mw=s.a32_active_mw))
    notes = (f"fitted on {len(samples)} routed pair runs of the {suite} pair suite (cycles from LLVM's cortex-m4 model on the M33 and "
             f"cortex-r52 model on the A32 / clock; ELU shares measured on each run's audio): {fitted['m33'][1]}; "
             f"{fitted['a32'][1]}; op types one unit never ran are the other's scaled by the clock ratio; link fitted on the full segments' encode + decode time vs values encoded and bytes. STAND-INS "
             f"(datasheets, not measured): active / static power, the A32 wake-up ({s.wake_ms:g} ms, {s.wake_uj:g} "
             f"uJ), the doorbell ({s.doorbell_ms:g} ms), {s.link_pj_per_byte:g} pJ/byte; see docs/placement.md")
    provenance = Provenance(device="emulated Cortex-M33 + Cortex-A32 pair (Unicorn), mailbox link", runner="unicorn-pair",
                            date=dt.date.today().isoformat(), n_samples=len(samples), suite=suite, notes=notes)
    name = PAIR_PROFILE + ("-skip" if skips_zero_inputs else "")
    return DeviceProfile(name=name, description="always-on Cortex-M33 (front, light tail) + Cortex-A32 (full "
                         "tail, woken per full segment), emulated; calibrated by hw_models.pair_calibrate"
                         + ("; the tails' first convs skip the mask's zeros" if skips_zero_inputs else ""),
                         provenance=provenance, default_unit="a32", units={"m33": m33, "a32": a32},
                         link=fit_link(samples, s), placement=PinnedPlacement(front="m33", light="m33", full="a32"))
