"""The device-runner interface: measure one exported artifact, get a typed :class:`Measurement`.

A runner follows nn-Meter's convert -> profile -> parse: the artifact is already converted
(``hw_models.runners.convert``), ``measure`` profiles it on the device and parses what the device reports. A
runner raises :class:`MeasurementError` (naming the artifact) for anything the device or its command got
wrong; :func:`measure_all` turns those into :class:`MeasurementFailure` entries and goes on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dslnas.hw_models.runners.artifact import Artifact
from dslnas.spaces.errors import UserError


@dataclass(frozen=True)
class Measurement:
    """Latency of one inference of ``artifact`` (its key, e.g. ``paper-full:onnx``) on one device.

    ``latency_ms_*``: per-inference wall time over ``repeats`` timed runs. ``power_mw``: power drawn by
    the inference (active minus idle, paper 3.2.3) or None when no meter was used.
    """

    artifact: str
    latency_ms_median: float
    latency_ms_p10: float
    latency_ms_p90: float
    repeats: int
    runner: str
    power_mw: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def energy_per_inference_uj(self) -> float | None:
        """Energy of one inference: the power drawn while inferring back to back (active minus idle, mW)
        divided by the measured rate (1 / median latency): mW x ms = uJ. None without a power reading."""
        return None if self.power_mw is None else self.power_mw * self.latency_ms_median


@dataclass(frozen=True)
class MeasurementFailure:
    """An artifact :func:`measure_all` could not measure, and why (the :class:`MeasurementError` text)."""

    artifact: str
    reason: str


class MeasurementError(UserError):
    """A measurement that failed on the device side: timeout, non-zero exit, unparsable output, no data."""

    def __init__(self, artifact: str, reason: str) -> None:
        super().__init__(f"measuring {artifact}: {reason}")
        self.artifact = artifact
        self.reason = reason


class DeviceRunner(ABC):
    """Measures artifacts on one device. Subclasses set ``name`` (their registry name).

    ``is_target_device``: whether what it measures is the deployment target (a board, a replay of one,
    an emulated core) rather than whatever host runs dslnas; a prediction for the target profile can
    then be compared absolutely. ``description`` names the device for provenance and confirmations. A
    runner that also streams a whole routed program over audio is a ``runners.routed.RoutedRunner``.
    """

    name: ClassVar[str]
    is_target_device: ClassVar[bool] = True

    @property
    def description(self) -> str:
        """What the measured device is, in words."""
        return f"{self.name} runner"

    @abstractmethod
    def measure(self, artifact: Artifact) -> Measurement:
        """Latency (and power, when the runner has a meter) of one inference of ``artifact``.

        Raises :class:`MeasurementError` naming ``artifact.key``.
        """


MeasureResult = Measurement | MeasurementFailure


def measure_all(
    runner: DeviceRunner,
    artifacts: Iterable[Artifact],
    on_result: Callable[[MeasureResult], None] | None = None,
) -> list[MeasureResult]:
    """Measure each artifact in order; a :class:`MeasurementError` becomes a failure entry, the rest go on.

    ``on_result`` is called with each result as it arrives (progress display, incremental CSV).
    Other exceptions are bugs and propagate.
    """
    results: list[MeasureResult] = []
    for artifact in artifacts:
        try:
            result: MeasureResult = runner.measure(artifact)
        except MeasurementError as err:
            result = MeasurementFailure(artifact.key, err.reason)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def check_spread(artifact: str, median_ms: float, p10_ms: float, p90_ms: float) -> None:
    """Raise :class:`MeasurementError` unless ``0 < p10 <= median <= p90`` (all finite)."""
    values = (p10_ms, median_ms, p90_ms)
    if not all(math.isfinite(v) for v in values):
        raise MeasurementError(artifact, f"non-finite latency (p10, median, p90) = {values}")
    if not 0 < p10_ms <= median_ms <= p90_ms:
        raise MeasurementError(artifact, f"latency must satisfy 0 < p10 <= median <= p90, got {values}")
