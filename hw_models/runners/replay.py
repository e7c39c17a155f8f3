"""The ``replay`` runner: earlier measurements from a CSV, to re-fit a calibration without the device.

Columns: ``artifact`` (the artifact key, e.g. ``paper-full:onnx``) and ``latency_ms`` (median) are
required; ``p10``, ``p90``, ``repeats``, ``power_mw`` are optional (an empty cell is "not measured");
any other column is kept in ``extra``. :func:`write_replay_csv` writes what a ``local`` or ``command``
run measured in this layout (plus the ``runner`` that measured it), so a run can be saved and replayed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dslnas.hw_models.runners.artifact import Artifact
from dslnas.hw_models.runners.base import DeviceRunner, Measurement, MeasurementError
from dslnas.hw_models.runners.command import measurement_from_report
from dslnas.spaces.errors import DataError

REQUIRED_COLUMNS = ("artifact", "latency_ms")
CSV_COLUMNS = ("artifact", "latency_ms", "p10", "p90", "repeats", "power_mw", "runner")
_NUMERIC_COLUMNS = ("latency_ms", "p10", "p90", "repeats", "power_mw")


class ReplayRunner(DeviceRunner):
    """Answers ``measure`` from the CSV at ``csv_path``; an artifact it does not list is a MeasurementError."""

    name = "replay"

    @property
    def description(self) -> str:
        return f"measurements replayed from {self.csv_path}"

    def __init__(self, csv_path: str | Path) -> None:
        self.csv_path = Path(csv_path)
        self.rows = read_replay_csv(self.csv_path)

    def measure(self, artifact: Artifact) -> Measurement:
        row = self.rows.get(artifact.key)
        if row is None:
            known = ", ".join(sorted(self.rows)) or "none"
            raise MeasurementError(artifact.key, f"not in replay CSV {self.csv_path} (it has: {known})")
        report = {k: v for k, v in row.items() if k != "artifact"}
        measurement = measurement_from_report(artifact.key, report, self.name)
        device = dict(measurement.extra.get("device", {}))
        extra = {k: v for k, v in measurement.extra.items() if k != "device"}
        if "runner" in device:
            extra["measured_by"] = device.pop("runner")
        extra.update(device, replay_csv=str(self.csv_path))
        return replace(measurement, extra=extra)


def read_replay_csv(path: Path) -> dict[str, dict[str, Any]]:
    """Rows by artifact key, numeric columns as numbers and empty cells dropped. Bad files are DataErrors."""
    try:
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"replay CSV {path} lacks column(s) {', '.join(missing)}; has {reader.fieldnames}")
            rows = [_parse_row(path, line, row) for line, row in enumerate(reader, start=2)]
    except OSError as err:
        raise DataError(f"cannot read replay CSV {path}: {err}") from err
    by_key: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["artifact"] in by_key:
            raise DataError(f"replay CSV {path} lists artifact {row['artifact']!r} twice")
        by_key[row["artifact"]] = row
    return by_key


def _parse_row(path: Path, line: int, row: dict[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for column, cell in row.items():
        cell = (cell or "").strip()
        if not cell:
            continue
        if column in _NUMERIC_COLUMNS:
            try:
                parsed[column] = float(cell)
            except ValueError:
                raise DataError(f"replay CSV {path} line {line}: {column} = {cell!r} is not a number") from None
        else:
            parsed[column] = cell
    if "artifact" not in parsed or "latency_ms" not in parsed:
        raise DataError(f"replay CSV {path} line {line}: artifact and latency_ms must not be empty")
    return parsed


def write_replay_csv(measurements: Iterable[Measurement], path: str | Path) -> Path:
    """Write ``measurements`` in the replay layout (``runner`` = who measured); returns the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for m in measurements:
            if not isinstance(m, Measurement):
                raise TypeError(f"write_replay_csv takes Measurements, got {type(m).__name__} (drop failures first)")
            power = "" if m.power_mw is None else repr(m.power_mw)
            writer.writerow([m.artifact, repr(m.latency_ms_median), repr(m.latency_ms_p10), repr(m.latency_ms_p90),
                             m.repeats, power, m.runner])
    return out
