"""The ``command`` runner: a board behind ``ssh`` / ``adb`` / a vendor tool, driven by a command template.

The template is a list of arguments with placeholders ``{artifact}`` (the file's path), ``{name}``,
``{format}`` (``onnx`` / ``torchscript``) and ``{input_shape}`` (``1,1,3200``), e.g.
``["ssh", "board", "run-model", "{artifact}"]``. Each argument is filled in on its own and the list is
run without a shell, under a timeout. ``ssh`` (and ``adb shell``) join their arguments into a line that a
shell on the board runs, so every value filled in must be inert there: letters, digits and ``_@%+=:,./-``,
not starting with ``-`` (a name such as ``$(reboot)`` or ``x; rm -rf ~`` is refused, never quoted, because
the runner cannot know which side parses it); a refused value is a MeasurementError naming it. The command prints ONE JSON object (log lines around it are
tolerated)::

    {"latency_ms": 14.7, "p10": 14.5, "p90": 15.1, "repeats": 100, "power_mw": 11.6}

``latency_ms`` (the median) is required; the rest is optional, other keys land in ``extra["device"]``.
With a power meter the runner runs the paper's protocol instead, which needs ``loop_command``: a
template that runs inference back to back until it is stopped (its stdin closes, then SIGTERM).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from dslnas.hw_models.runners.artifact import Artifact
from dslnas.hw_models.runners.power_meters import PowerMeter, PowerProtocol, subprocess_loop
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementError, check_spread
from dslnas.hw_models.runners.power import wants_power, with_meter_power
from dslnas.hw_models.runners.process import parse_json_object, run_argv
from dslnas.spaces.errors import ConfigError

PLACEHOLDERS = ("artifact", "name", "format", "input_shape")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SHELL_INERT = re.compile(r"^[A-Za-z0-9_@%+=:,./][A-Za-z0-9_@%+=:,./-]*$")  # shlex.quote leaves these as they are
REPORT_KEYS = ("latency_ms", "p10", "p90", "repeats", "power_mw")


def check_template(command: Sequence[str], option: str) -> list[str]:
    """The template as a list of strings; a bare string or an unknown ``{placeholder}`` is a ConfigError."""
    if isinstance(command, str) or not command:
        raise ConfigError(f"command runner: {option} must be a non-empty list of arguments, got {command!r}")
    args = [str(a) for a in command]
    unknown = sorted({m for a in args for m in _PLACEHOLDER.findall(a)} - set(PLACEHOLDERS))
    if unknown:
        raise ConfigError(f"command runner: {option} has unknown placeholder(s) {', '.join(unknown)}; "
                          f"valid: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    return args


def fill_template(template: Sequence[str], artifact: Artifact) -> list[str]:
    """Each argument with its placeholders replaced by the artifact's values; a value a remote shell would
    read as more than one plain word (:data:`SHELL_INERT`) is a MeasurementError naming the placeholder."""
    values = {"artifact": str(artifact.path), "name": artifact.name, "format": artifact.fmt.value,
              "input_shape": ",".join(map(str, artifact.input_shape))}
    used = {m for arg in template for m in _PLACEHOLDER.findall(arg)}
    for key in sorted(used):
        if not SHELL_INERT.match(values[key]):
            raise MeasurementError(artifact.key, f"{{{key}}} would be {values[key]!r}, which a shell on the board "
                                   "could run or split; use letters, digits and _@%+=:,./- (not starting with -) "
                                   "in candidate names and work-dir paths")
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in template]


class CommandRunner(DeviceRunner):
    name = "command"

    @property
    def description(self) -> str:
        return f"command runner: {' '.join(self.command)}"

    def __init__(self, command: Sequence[str], timeout_s: float = 120.0, loop_command: Sequence[str] | None = None,
                 power_meter: PowerMeter | None = None, power_protocol: PowerProtocol = PowerProtocol()) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"command runner: timeout_s must be > 0, got {timeout_s}")
        self.command, self.timeout_s = check_template(command, "command"), timeout_s
        self.loop_command = None if loop_command is None else check_template(loop_command, "loop_command")
        if wants_power(power_meter) and self.loop_command is None:
            raise ConfigError("command runner: a power meter needs loop_command (inference back to back until stopped)")
        self.power_meter, self.power_protocol = power_meter, power_protocol

    def measure(self, artifact: Artifact) -> Measurement:
        argv = fill_template(self.command, artifact)
        done = run_argv(artifact.key, argv, self.timeout_s)
        measurement = measurement_from_report(artifact.key, parse_json_object(artifact.key, done.stdout), self.name)
        if not wants_power(self.power_meter):
            return measurement
        loop = subprocess_loop(fill_template(self.loop_command, artifact))
        return with_meter_power(measurement, self.power_meter, self.power_protocol, loop)


def measurement_from_report(artifact: str, report: dict[str, Any], runner: str) -> Measurement:
    """A Measurement from a device's JSON report; a missing or malformed field is a MeasurementError.

    Without ``p10`` / ``p90`` the spread is the median itself and ``extra["spread_reported"]`` is False.
    """
    median = _number(artifact, report, "latency_ms", required=True)
    p10 = _number(artifact, report, "p10")
    p90 = _number(artifact, report, "p90")
    repeats = _number(artifact, report, "repeats")
    power_mw = _number(artifact, report, "power_mw")
    if repeats is not None and (repeats < 1 or repeats != int(repeats)):
        raise MeasurementError(artifact, f"'repeats' must be a positive integer, got {report['repeats']!r}")
    spread_reported = p10 is not None and p90 is not None
    p10, p90 = (p10, p90) if spread_reported else (median, median)
    check_spread(artifact, median, p10, p90)
    extra: dict[str, Any] = {"spread_reported": spread_reported, "repeats_reported": repeats is not None}
    device = {k: v for k, v in report.items() if k not in REPORT_KEYS}
    if device:
        extra["device"] = device
    if power_mw is not None:
        extra["power_source"] = "device"
    return Measurement(artifact, median, p10, p90, int(repeats or 1), runner, power_mw, extra)


def _number(artifact: str, report: dict[str, Any], key: str, required: bool = False) -> float | None:
    if key not in report or report[key] is None:
        if required:
            raise MeasurementError(artifact, f"device report has no {key!r}: {report}")
        return None
    value = report[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MeasurementError(artifact, f"device report field {key!r} is not a finite number: {value!r}")
    return float(value)
