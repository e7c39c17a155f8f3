"""The ``local`` runner: this host's CPU, one fresh worker process per measurement.

Each ``measure`` starts ``python -m dslnas.hw_models.runners.local_worker`` (an argument list, no shell)
with a fixed thread count (torch ``set_num_threads`` / onnxruntime ``intra_op_num_threads`` and the usual
``*_NUM_THREADS`` variables), ``warmup`` untimed runs, then ``repeats`` (>= 50) timed runs; it reports the
median and the p10/p90 spread. With a power meter, a second worker keeps the model loaded and runs it back
to back during the active windows of the paper's protocol (``hw_models.power_meters.measure_power``).
"""

from __future__ import annotations

import json
import os
import platform
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dslnas.hw_models.runners.artifact import Artifact
from dslnas.hw_models.runners.power_meters import PowerMeter, PowerProtocol
from dslnas.hw_models.runners.base import Measurement, MeasurementError, check_spread
from dslnas.hw_models.runners.power import wants_power, with_meter_power
from dslnas.hw_models.runners.routed import RoutedRun, RoutedRunner
from dslnas.hw_models.runners.process import kill_group, parse_json_object, run_argv, tail
from dslnas.spaces.errors import ConfigError

if TYPE_CHECKING:
    from dslnas.hw_models.c_export import CExportInfo

WORKER_MODULE = "dslnas.hw_models.runners.local_worker"
MIN_TIMED_REPEATS = 50
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class LocalRunner(RoutedRunner):
    """Measures artifacts on this host. ``cpus``: CPU ids to pin the worker to (None: no pinning)."""

    name = "local"
    is_target_device = False  # this host, not the deployment target

    @property
    def description(self) -> str:
        return f"host {platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs), {self.threads} thread(s)"

    def __init__(self, threads: int = 1, warmup: int = 10, repeats: int = 100, timeout_s: float = 600.0,
                 cpus: Sequence[int] | None = None, power_meter: PowerMeter | None = None,
                 power_protocol: PowerProtocol = PowerProtocol()) -> None:
        if threads < 1 or warmup < 0 or timeout_s <= 0:
            raise ConfigError(f"local runner: need threads >= 1, warmup >= 0, timeout_s > 0; got {threads}, {warmup}, {timeout_s}")
        if repeats < MIN_TIMED_REPEATS:
            raise ConfigError(f"local runner: repeats must be at least {MIN_TIMED_REPEATS} for a p10/p90 spread, got {repeats}")
        self.threads, self.warmup, self.repeats, self.timeout_s = threads, warmup, repeats, timeout_s
        self.cpus = tuple(cpus) if cpus else ()
        self.power_meter, self.power_protocol = power_meter, power_protocol

    def measure(self, artifact: Artifact) -> Measurement:
        if not artifact.path.is_file():
            raise MeasurementError(artifact.key, f"artifact file {artifact.path} does not exist")
        done = run_argv(artifact.key, self._worker_argv(artifact), self.timeout_s, env=self._env())
        measurement = self._parse(artifact, parse_json_object(artifact.key, done.stdout))
        if not wants_power(self.power_meter):
            return measurement
        with WorkerLoop(artifact.key, self._worker_argv(artifact, "--serve-loop"), self._env(), self.timeout_s) as loop:
            measurement = with_meter_power(measurement, self.power_meter, self.power_protocol, loop)
        return replace(measurement, extra={**measurement.extra, "power_inferences_per_window": loop.inferences_per_window})

    def run_routed(self, info: "CExportInfo", segments: np.ndarray) -> RoutedRun:
        """Build a routed C export (``c_export.CExportInfo``) with the host gcc and stream ``segments``
        ``[S, in_floats]`` through it with automatic routing, one untimed pass (when ``warmup`` > 0), then
        enough timed passes for about ``repeats`` timed segments; per-segment latency is the median over the passes."""
        from dslnas.hw_models.c_export.toolchain import build_host_timer, run_host_timer

        n_segments = len(np.asarray(segments).reshape(-1, info.in_floats))
        if n_segments == 0:
            raise MeasurementError(info.name, "no whole segment of audio to stream")
        passes = max(3, -(-self.repeats // n_segments))
        paths, ns = run_host_timer(build_host_timer(info), info, segments, self.warmup_passes + passes)
        timed_ms = ns[self.warmup_passes:] / 1e6
        return RoutedRun(tuple(int(p) for p in paths), tuple(float(v) for v in np.median(timed_ms, axis=0)),
                         {"timed_passes": passes, "runtime": "C99 built with the host gcc -O2"})

    @property
    def warmup_passes(self) -> int:
        return 1 if self.warmup else 0

    def _worker_argv(self, artifact: Artifact, *flags: str) -> list[str]:
        return [
            sys.executable, "-m", WORKER_MODULE, str(artifact.path), "--format", artifact.fmt.value,
            "--input-shape", ",".join(map(str, artifact.input_shape)), "--threads", str(self.threads),
            "--warmup", str(self.warmup), "--repeats", str(self.repeats),
            "--cpus", ",".join(map(str, self.cpus)), *flags,
        ]

    def _env(self) -> dict[str, str]:
        return {**os.environ, **{var: str(self.threads) for var in THREAD_ENV_VARS}}

    def _parse(self, artifact: Artifact, report: dict[str, Any]) -> Measurement:
        try:
            median, p10, p90 = (float(report[k]) for k in ("latency_ms_median", "latency_ms_p10", "latency_ms_p90"))
            repeats = int(report["repeats"])
        except (KeyError, TypeError, ValueError) as err:
            raise MeasurementError(artifact.key, f"worker report lacks a latency field: {err}") from err
        check_spread(artifact.key, median, p10, p90)
        extra = {k: report[k] for k in ("runtime", "threads", "warmup", "latency_ms_samples") if k in report}
        return Measurement(artifact.key, median, p10, p90, repeats, self.name, extra={**extra, "cpus": list(self.cpus)})


class WorkerLoop:
    """A ``--serve-loop`` worker as an :data:`~dslnas.hw_models.runners.power_meters.InferenceLoop` (context manager).

    Entering starts the worker and waits until its model is loaded; each call runs inference from
    ``start`` until the stop event; ``inferences_per_window`` counts what each call ran.
    """

    def __init__(self, artifact: str, argv: list[str], env: dict[str, str], timeout_s: float) -> None:
        self.artifact, self.argv, self.env, self.timeout_s = artifact, argv, env, timeout_s
        self.inferences_per_window: list[int] = []
        self._proc: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile("w+")

    def __enter__(self) -> "WorkerLoop":
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      text=True, env=self.env, start_new_session=True)
        try:
            self._expect("ready")
        except MeasurementError:
            self.__exit__()
            raise
        return self

    def __call__(self, stop: threading.Event) -> None:
        self._send("start")
        stop.wait()
        self._send("stop")
        self.inferences_per_window.append(int(self._expect("stopped").get("inferences", 0)))

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        try:
            self._proc.stdin.close()
            self._proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            kill_group(self._proc)
            self._proc.wait()
        self._stderr.close()

    def _send(self, line: str) -> None:
        try:
            self._proc.stdin.write(line + "\n")
            self._proc.stdin.flush()
        except OSError as err:
            raise MeasurementError(self.artifact, f"inference worker gone ({err}){self._stderr_note()}") from err

    def _expect(self, key: str) -> dict[str, Any]:
        ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout_s)
        line = self._proc.stdout.readline() if ready else ""
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            reply = {}
        if not reply.get(key):
            raise MeasurementError(self.artifact, f"inference worker did not answer {key!r} (got {line.strip()!r}){self._stderr_note()}")
        return reply

    def _stderr_note(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read()
        return f"; stderr: {tail(text)}" if text.strip() else ""
