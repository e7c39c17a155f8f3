"""Power meters (none, command, hwmon on a fake sysfs folder) and the paper's with/without protocol.

This host has no power rail: the hwmon tests build a folder with the layout of ``/sys/class/hwmon/hwmonN``
of an INA2xx monitor, and the protocol tests use a fake meter that reads higher while inference runs.
"""

from __future__ import annotations

import sys
import textwrap
import threading
import time

import pytest

from dslnas.hw_models.runners.artifact import ArtifactFormat, ExportPart
from dslnas.hw_models.runners.convert import export_paths
from dslnas.hw_models.runners.power_meters import (
    POWER_METERS, CommandPowerMeter, HwmonPowerMeter, NoPowerMeter, PowerMeter, PowerMeterError, PowerProtocol,
    get_power_meter, measure_power, subprocess_loop,
)
from dslnas.hw_models.runners.base import MeasurementError
from dslnas.hw_models.runners.command import CommandRunner
from dslnas.hw_models.runners.local import LocalRunner
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.errors import ConfigError, UserError

TINY = CandidateConfig(
    name="tiny",
    encoder=EncoderArch(stem_channels=2, block_channels=(4, 4), block_strides=(2, 2), embedding_dim=4),
    dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2),
)


FAST = PowerProtocol(window_s=0.1, repeats=2, sample_period_s=0.01, settle_s=0.0)


class FakeRail(PowerMeter):
    """Reads ``idle_mw``, plus ``extra_mw`` while ``running`` is set (the inference loop sets it)."""

    name = "fake"

    def __init__(self, idle_mw: float = 100.0, extra_mw: float = 50.0) -> None:
        self.running = threading.Event()
        self.idle_mw, self.extra_mw, self.reads = idle_mw, extra_mw, 0

    def read_mw(self) -> float:
        self.reads += 1
        return self.idle_mw + (self.extra_mw if self.running.is_set() else 0.0)


def _busy_loop(rail: FakeRail, calls: list[int]):
    def loop(stop: threading.Event) -> None:
        calls.append(1)
        rail.running.set()
        stop.wait()
        rail.running.clear()
    return loop


def test_protocol_subtracts_idle_from_active():
    rail, calls = FakeRail(), []
    reading = measure_power(rail, _busy_loop(rail, calls), window_s=0.15, repeats=3, sample_period_s=0.01, settle_s=0.0)
    assert reading.idle_windows_mw == (100.0,) * 3 and reading.active_windows_mw == (150.0,) * 3
    assert (reading.idle_mw, reading.active_mw, reading.inference_mw, reading.inference_mw_std) == (100.0, 150.0, 50.0, 0.0)
    assert len(calls) == 3 and reading.min_samples_per_window >= 5 and reading.meter == "fake"


def test_protocol_windows_last_their_length():
    rail = FakeRail()
    start = time.monotonic()
    FAST.measure(rail, _busy_loop(rail, []))
    assert 0.4 <= time.monotonic() - start < 1.5  # 2 repeats x (idle + active) x 0.1 s


def test_protocol_reports_a_failing_or_short_loop():
    def failing(stop: threading.Event) -> None:
        raise RuntimeError("model crashed")

    def short(stop: threading.Event) -> None:
        return None

    with pytest.raises(PowerMeterError, match="model crashed"):
        FAST.measure(FakeRail(), failing)
    with pytest.raises(PowerMeterError, match="ended before the active window closed"):
        FAST.measure(FakeRail(), short)
    with pytest.raises(ConfigError, match="window_s > 0"):
        measure_power(FakeRail(), short, window_s=0.0)


def test_none_meter_gives_no_power():
    meter = get_power_meter("none")
    assert isinstance(meter, NoPowerMeter) and measure_power(meter, lambda stop: None) is None
    with pytest.raises(PowerMeterError, match="reads no power"):
        meter.read_mw()


@pytest.mark.parametrize("printed, expected_mw", [("123.5", 123.5), ("42 mW", 42.0), ("  7e2mW\n", 700.0)])
def test_command_meter_parses_mw(printed, expected_mw):
    meter = get_power_meter("command", command=[sys.executable, "-c", f"print({printed!r})"])
    assert meter.read_mw() == expected_mw


@pytest.mark.parametrize("code, message", [
    ("print('about 5 watts')", "not a number of mW"), ("import sys; sys.exit(3)", "exited 3"), ("print('nan')", "not a number"), ("print('1e999')", "inf mW"),
])
def test_command_meter_failures(code, message):
    with pytest.raises(PowerMeterError, match=message):
        CommandPowerMeter([sys.executable, "-c", code]).read_mw()


def test_hwmon_power_input_in_microwatts(tmp_path):
    (tmp_path / "power1_input").write_text("1500000\n")
    (tmp_path / "curr1_input").write_text("1\n")  # power1_input wins when both are there
    (tmp_path / "in1_input").write_text("1\n")
    assert get_power_meter("hwmon", path=tmp_path).read_mw() == 1500.0


def test_hwmon_current_times_voltage(tmp_path):
    (tmp_path / "curr1_input").write_text("250\n")   # mA
    (tmp_path / "in1_input").write_text("5000\n")    # mV
    (tmp_path / "in2_input").write_text("3300\n")
    assert HwmonPowerMeter(tmp_path).read_mw() == 1250.0
    assert HwmonPowerMeter(tmp_path, voltage_input="in2_input").read_mw() == 825.0


def test_hwmon_errors_name_the_files(tmp_path):
    (tmp_path / "temp1_input").write_text("40000\n")
    with pytest.raises(ConfigError, match="neither power1_input nor curr1_input.*inputs there: temp1_input"):
        HwmonPowerMeter(tmp_path)
    with pytest.raises(ConfigError, match="not a folder"):
        HwmonPowerMeter(tmp_path / "absent")
    (tmp_path / "power1_input").write_text("n/a\n")
    with pytest.raises(PowerMeterError, match="power1_input"):
        HwmonPowerMeter(tmp_path).read_mw()


def test_meter_registry_fails_loudly(tmp_path):
    assert set(POWER_METERS) == {"none", "command", "hwmon"}
    with pytest.raises(UserError, match="unknown power meter 'ina'; valid: command, hwmon, none"):
        get_power_meter("ina")
    with pytest.raises(ConfigError, match="unknown option.*rail.*valid: path"):
        get_power_meter("hwmon", rail=tmp_path)


def test_subprocess_loop_that_dies_is_reported():
    loop = subprocess_loop([sys.executable, "-c", "import sys; sys.stderr.write('no board'); sys.exit(2)"])
    with pytest.raises(PowerMeterError, match="exited 2 before it was stopped.*no board"):
        PowerProtocol(window_s=0.3, repeats=1, sample_period_s=0.05, settle_s=0.0).measure(FakeRail(), loop)


LOOP_SCRIPT = textwrap.dedent("""
    import pathlib, signal, sys, time
    marker = pathlib.Path(sys.argv[1])
    def stop(*_):
        marker.unlink(missing_ok=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
    marker.write_text("running")
    while True:
        time.sleep(0.005)
""")


class MarkerRail(PowerMeter):
    """A rail that reads 80 mW, 120 mW while the loop command's marker file exists."""

    name = "marker"

    def __init__(self, marker) -> None:
        self.marker = marker

    def read_mw(self) -> float:
        return 120.0 if self.marker.exists() else 80.0


def test_command_runner_runs_the_protocol_with_a_loop_command(tmp_path):
    script, marker = tmp_path / "loop.py", tmp_path / "running"
    script.write_text(LOOP_SCRIPT)
    report = [sys.executable, "-c", "print('{\"latency_ms\": 5.0, \"power_mw\": 9.0}')"]
    runner = CommandRunner(report, loop_command=[sys.executable, str(script), str(marker)], power_meter=MarkerRail(marker),
                           power_protocol=PowerProtocol(window_s=0.1, repeats=2, sample_period_s=0.01, settle_s=0.5))
    artifact = export_paths(TINY, tmp_path, (ArtifactFormat.ONNX,), (ExportPart.LIGHT,))[0]
    result = runner.measure(artifact)
    assert result.power_mw == pytest.approx(40.0) and result.extra["device_power_mw"] == 9.0
    assert result.extra["power_source"] == "meter:marker" and result.extra["power"]["idle_mw"] == 80.0
    with pytest.raises(ConfigError, match="needs loop_command"):
        CommandRunner(report, power_meter=MarkerRail(marker))


@pytest.mark.parametrize("fmt", [ArtifactFormat.ONNX, ArtifactFormat.TORCHSCRIPT])
def test_local_runner_runs_inference_in_active_windows(tmp_path, fmt):
    artifact = export_paths(TINY, tmp_path, (fmt,), (ExportPart.FULL,))[0]
    runner = LocalRunner(warmup=1, repeats=50, power_meter=FakeRail(), power_protocol=FAST)
    result = runner.measure(artifact)
    assert result.power_mw == 0.0  # a constant rail: the worker ran, but the fake rail cannot see it
    counts = result.extra["power_inferences_per_window"]
    assert len(counts) == FAST.repeats and all(n > 0 for n in counts)


def test_local_runner_with_none_meter_has_no_power(tmp_path):
    artifact = export_paths(TINY, tmp_path, (ArtifactFormat.ONNX,), (ExportPart.LIGHT,))[0]
    result = LocalRunner(warmup=1, repeats=50, power_meter=NoPowerMeter()).measure(artifact)
    assert result.power_mw is None and "power" not in result.extra


def test_local_runner_power_failure_names_the_artifact(tmp_path):
    artifact = export_paths(TINY, tmp_path, (ArtifactFormat.ONNX,), (ExportPart.LIGHT,))[0]
    broken = CommandPowerMeter([sys.executable, "-c", "print('?')"])
    with pytest.raises(MeasurementError, match="tiny-light:onnx: power: .*not a number"):
        LocalRunner(warmup=1, repeats=50, power_meter=broken, power_protocol=FAST).measure(artifact)
