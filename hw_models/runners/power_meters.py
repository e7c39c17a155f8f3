"""Power meters and the paper's power protocol (section 3.2.3): with and without inference, subtract.

A :class:`PowerMeter` reads the board's power in mW (``none``, ``command``, ``hwmon``; see ``POWER_METERS``).
:func:`measure_power` alternates idle windows (nothing running) and active windows (inference running back
to back), samples the meter through each window and reports ``inference_mw = active_mw - idle_mw``. The
paper used 30 s windows, 10 repeats; both are settings (tests use windows of a fraction of a second).

``hwmon`` reads a Linux hwmon folder (``/sys/class/hwmon/hwmonN`` of an INA2xx-style rail monitor). The
tests point it at a fake folder of the same layout: this development host has no power rail to read.
"""

from __future__ import annotations

import inspect
import math
import os
import re
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from dslnas.spaces.errors import ConfigError, UserError, unknown_name

# Runs inference back to back until the event is set, then returns; an exception means it failed.
InferenceLoop = Callable[[threading.Event], None]

_NUMBER_MW = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:mW)?\s*$")


class PowerMeterError(UserError):
    """A meter that cannot be read, or a power measurement that went wrong."""


class PowerMeter(ABC):
    """Reads the power the device draws now (or averaged over the meter's own window), in mW."""

    name: ClassVar[str]
    measures_power: ClassVar[bool] = True

    @abstractmethod
    def read_mw(self) -> float:
        """One reading in mW; raises :class:`PowerMeterError` when the meter cannot be read."""


class NoPowerMeter(PowerMeter):
    """No meter: measurements carry ``power_mw=None`` (:func:`measure_power` returns None)."""

    name = "none"
    measures_power = False

    def read_mw(self) -> float:
        raise PowerMeterError("the 'none' power meter reads no power; pick 'command' or 'hwmon'")


class CommandPowerMeter(PowerMeter):
    """Runs an argument list (no shell); its stdout is one number of mW, e.g. ``123.4`` or ``123.4 mW``."""

    name = "command"

    def __init__(self, command: Sequence[str], timeout_s: float = 10.0) -> None:
        if isinstance(command, str) or not command:
            raise ConfigError("command power meter: 'command' must be a non-empty list of arguments")
        self.command, self.timeout_s = [str(a) for a in command], timeout_s

    def read_mw(self) -> float:
        try:
            done = subprocess.run(self.command, capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise PowerMeterError(f"power meter command {self.command}: {err}") from err
        if done.returncode != 0:
            raise PowerMeterError(f"power meter command {self.command} exited {done.returncode}: {done.stderr.strip()[-300:]}")
        match = _NUMBER_MW.match(done.stdout)
        if match is None:
            raise PowerMeterError(f"power meter command {self.command} printed {done.stdout.strip()[:200]!r}, not a number of mW")
        return _finite_mw(float(match.group(1)), self.command[0])


class HwmonPowerMeter(PowerMeter):
    """A Linux hwmon folder: ``power_input`` (uW) if present, else ``current_input`` (mA) x ``voltage_input`` (mV).

    Defaults fit INA2xx rail monitors (``power1_input``; ``curr1_input`` with bus voltage ``in1_input``).
    """

    name = "hwmon"

    def __init__(self, path: str | Path, power_input: str = "power1_input",
                 current_input: str = "curr1_input", voltage_input: str = "in1_input") -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ConfigError(f"hwmon power meter: {self.path} is not a folder")
        self.power_file = self.path / power_input
        self.pair = (self.path / current_input, self.path / voltage_input)
        if not self.power_file.exists() and not all(f.exists() for f in self.pair):
            found = sorted(p.name for p in self.path.glob("*_input"))
            raise ConfigError(
                f"hwmon power meter: {self.path} has neither {power_input} nor {current_input} + {voltage_input}; "
                f"inputs there: {', '.join(found) or 'none'}"
            )

    def read_mw(self) -> float:
        if self.power_file.exists():
            return _finite_mw(_read_int(self.power_file) / 1000.0, str(self.power_file))
        current_ma, voltage_mv = (_read_int(f) for f in self.pair)
        return _finite_mw(current_ma * voltage_mv / 1000.0, str(self.path))


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError) as err:
        raise PowerMeterError(f"cannot read an integer from {path}: {err}") from err


def _finite_mw(value: float, source: str) -> float:
    if not math.isfinite(value):
        raise PowerMeterError(f"power meter {source} read {value} mW")
    return value


POWER_METERS: dict[str, type[PowerMeter]] = {
    cls.name: cls for cls in (NoPowerMeter, CommandPowerMeter, HwmonPowerMeter)
}


def get_power_meter(name: str, **options: Any) -> PowerMeter:
    """The meter registered as ``name`` built with ``options``; unknown names or options are UserErrors."""
    if name not in POWER_METERS:
        raise unknown_name("power meter", name, list(POWER_METERS))
    cls = POWER_METERS[name]
    valid = [p for p in inspect.signature(cls).parameters]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"power meter {name!r}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid) or 'none'}")
    return cls(**options)


@dataclass(frozen=True)
class PowerReading:
    """Result of :func:`measure_power`. Window values are the mean of the samples in each window."""

    meter: str
    window_s: float
    idle_mw: float
    active_mw: float
    inference_mw: float  # active_mw - idle_mw: what the inference itself draws
    inference_mw_std: float  # population std of the per-repeat (active - idle) differences
    idle_windows_mw: tuple[float, ...]
    active_windows_mw: tuple[float, ...]
    min_samples_per_window: int


@dataclass(frozen=True)
class PowerProtocol:
    """Settings of :func:`measure_power` as one value runners take; defaults are the paper's (30 s x 10)."""

    window_s: float = 30.0
    repeats: int = 10
    sample_period_s: float = 0.1
    settle_s: float = 0.5

    def measure(self, meter: PowerMeter, run_inference_loop: InferenceLoop) -> PowerReading | None:
        return measure_power(meter, run_inference_loop, self.window_s, self.repeats,
                             sample_period_s=self.sample_period_s, settle_s=self.settle_s)


def measure_power(
    meter: PowerMeter,
    run_inference_loop: InferenceLoop,
    window_s: float = 30.0,
    repeats: int = 10,
    *,
    sample_period_s: float = 0.1,
    settle_s: float = 0.5,
) -> PowerReading | None:
    """The paper's protocol: ``repeats`` x (idle window, active window), sampled every ``sample_period_s``.

    ``run_inference_loop(stop)`` runs in a background thread during each active window and must return
    soon after ``stop`` is set; ending early or raising is a :class:`PowerMeterError`. ``settle_s`` is
    waited (unsampled) after each switch between idle and active. Returns None for the ``none`` meter.
    """
    if not meter.measures_power:
        return None
    if window_s <= 0 or repeats < 1 or sample_period_s <= 0 or settle_s < 0:
        raise ConfigError(f"power protocol needs window_s > 0, repeats >= 1, sample_period_s > 0, settle_s >= 0; "
                          f"got {window_s}, {repeats}, {sample_period_s}, {settle_s}")
    idle, active, counts = [], [], []
    for _ in range(repeats):
        time.sleep(settle_s)
        idle.append(_sample_window(meter, window_s, sample_period_s, counts))
        with _inference_running(run_inference_loop) as still_running:
            time.sleep(settle_s)
            active.append(_sample_window(meter, window_s, sample_period_s, counts))
            if not still_running():
                raise PowerMeterError("the inference loop ended before the active window closed")
    diffs = [a - i for a, i in zip(active, idle)]
    return PowerReading(
        meter.name, window_s, statistics.fmean(idle), statistics.fmean(active), statistics.fmean(diffs),
        statistics.pstdev(diffs), tuple(idle), tuple(active), min(counts),
    )


def _sample_window(meter: PowerMeter, window_s: float, period_s: float, counts: list[int]) -> float:
    """Mean of readings taken every ``period_s`` for ``window_s`` (at least one)."""
    start = time.monotonic()
    readings = [meter.read_mw()]
    while (next_at := start + len(readings) * period_s) < start + window_s:
        time.sleep(max(0.0, next_at - time.monotonic()))
        readings.append(meter.read_mw())
    time.sleep(max(0.0, start + window_s - time.monotonic()))
    counts.append(len(readings))
    return statistics.fmean(readings)


@contextmanager
def _inference_running(loop: InferenceLoop, stop_timeout_s: float = 60.0) -> Iterator[Callable[[], bool]]:
    """Run ``loop`` in a thread for the body; yields a probe "is it still running"; re-raises its error."""
    stop, errors = threading.Event(), []

    def target() -> None:
        try:
            loop(stop)
        except BaseException as err:  # noqa: BLE001 - handed to the measuring thread below
            errors.append(err)

    thread = threading.Thread(target=target, name="inference-loop", daemon=True)
    thread.start()
    try:
        yield thread.is_alive
    finally:
        stop.set()
        thread.join(stop_timeout_s)
        if errors:  # the loop's own error says more than "it ended early": it replaces that one
            raise PowerMeterError(f"the inference loop failed: {errors[0]}") from errors[0]
    if thread.is_alive():
        raise PowerMeterError(f"the inference loop did not stop within {stop_timeout_s:g} s")


def subprocess_loop(argv: Sequence[str], grace_s: float = 5.0) -> InferenceLoop:
    """An :data:`InferenceLoop` that runs ``argv`` (a command looping inference) until stopped.

    On stop its stdin is closed and its session gets SIGTERM, then SIGKILL after ``grace_s``. A command
    that exits by itself before the stop is a failure (its stderr tail is in the error).
    """

    def run(stop: threading.Event) -> None:
        with tempfile.TemporaryFile("w+") as err_file:
            proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=err_file, text=True, start_new_session=True)
            while not stop.wait(0.05) and proc.poll() is None:
                pass
            ended_early = proc.poll() is not None
            _stop_session(proc, grace_s)
            if ended_early:
                err_file.seek(0)
                raise PowerMeterError(f"inference command {list(argv)} exited {proc.returncode} before it was stopped: "
                                      f"{err_file.read().strip()[-300:]}")

    return run


def _stop_session(proc: subprocess.Popen, grace_s: float) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(grace_s)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()
