"""Power for runners: run the paper's protocol with a meter and fold the reading into a Measurement."""

from __future__ import annotations

from dataclasses import asdict, replace

from dslnas.hw_models.runners.power_meters import InferenceLoop, PowerMeter, PowerMeterError, PowerProtocol
from dslnas.hw_models.runners.base import Measurement, MeasurementError


def wants_power(meter: PowerMeter | None) -> bool:
    """True when ``meter`` reads power (None and the ``none`` meter do not)."""
    return meter is not None and meter.measures_power


def with_meter_power(
    measurement: Measurement, meter: PowerMeter, protocol: PowerProtocol, loop: InferenceLoop
) -> Measurement:
    """``measurement`` with ``power_mw`` = active - idle from ``protocol`` run with ``meter`` and ``loop``.

    The whole reading (per-window values, std) goes to ``extra["power"]``; any failure is a
    MeasurementError naming the artifact.
    """
    try:
        reading = protocol.measure(meter, loop)
    except PowerMeterError as err:
        raise MeasurementError(measurement.artifact, f"power: {err}") from err
    if reading is None:
        return measurement
    extra = {**measurement.extra, "power": asdict(reading), "power_source": f"meter:{meter.name}"}
    if measurement.power_mw is not None:  # the device reported its own figure: keep it beside the meter's
        extra["device_power_mw"] = measurement.power_mw
    return replace(measurement, power_mw=reading.inference_mw, extra=extra)
