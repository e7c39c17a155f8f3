"""The measuring process of the ``local`` runner: load one artifact, time it, print one JSON object.

Run as ``python -m dslnas.hw_models.runners.local_worker ARTIFACT --format onnx --input-shape 1,1,3200``.
It imports only numpy and the artifact's runtime (onnxruntime for ONNX, torch for TorchScript), so an
ONNX measurement does not carry torch in its process. Two modes:

* timing (default): ``--warmup`` untimed runs, then ``--repeats`` timed runs; prints
  ``{"latency_ms_median", "latency_ms_p10", "latency_ms_p90", "repeats", "latency_ms_samples", ...}``.
* ``--serve-loop``: prints ``{"ready": true}``, then obeys stdin lines ``start`` (run inference
  back to back) and ``stop`` (pause; answers ``{"stopped": true, "inferences": n}``) until EOF. The
  power protocol drives it so that active windows have inference running and idle windows do not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

# The values of dslnas.hw_models.runners.convert.ArtifactFormat (kept literal so this process never imports torch).
ONNX, TORCHSCRIPT = "onnx", "torchscript"
InferenceFn = Callable[[np.ndarray], list[np.ndarray]]


def load_inference(path: str, fmt: str, threads: int) -> tuple[InferenceFn, str]:
    """A callable running the artifact on a float32 array of its input shape, and the runtime's name."""
    if fmt == ONNX:
        return _load_onnx(path, threads)
    if fmt == TORCHSCRIPT:
        return _load_torchscript(path, threads)
    raise ValueError(f"unknown artifact format {fmt!r}; valid: {ONNX}, {TORCHSCRIPT}")


def _load_onnx(path: str, threads: int) -> tuple[InferenceFn, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    return (lambda x: session.run(None, {input_name: x})), f"onnxruntime {ort.__version__}"


def _load_torchscript(path: str, threads: int) -> tuple[InferenceFn, str]:
    import torch

    torch.set_num_threads(threads)
    module = torch.jit.load(path, map_location="cpu").eval()

    def run(x: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = module(torch.from_numpy(x))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.numpy() for o in outs]

    return run, f"torch {torch.__version__}"


def time_inference(run: InferenceFn, x: np.ndarray, warmup: int, repeats: int) -> list[float]:
    """Per-call wall time in ms of ``repeats`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        run(x)
    samples_ms = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        run(x)
        samples_ms.append((time.perf_counter_ns() - start) / 1e6)
    return samples_ms


def summarize_ms(samples_ms: list[float]) -> dict[str, float | int]:
    p10, median, p90 = np.percentile(np.asarray(samples_ms), [10, 50, 90])
    return {"latency_ms_median": float(median), "latency_ms_p10": float(p10), "latency_ms_p90": float(p90),
            "repeats": len(samples_ms)}


def serve_loop(run: InferenceFn, x: np.ndarray) -> None:
    """Run inference back to back between ``start`` and ``stop`` lines on stdin; exit on EOF."""
    running, done, busy = threading.Event(), threading.Event(), threading.Lock()
    count = [0]

    def loop() -> None:
        while not done.is_set():
            if running.wait(timeout=0.05):
                with busy:  # "stop" waits for the inference in flight before it answers
                    if running.is_set():
                        run(x)
                        count[0] += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    _emit({"ready": True})
    for line in sys.stdin:
        command = line.strip()
        if command == "start":
            count[0] = 0
            running.set()
        elif command == "stop":
            running.clear()
            with busy:
                pass
            _emit({"stopped": True, "inferences": count[0]})
    done.set()
    thread.join()


def _emit(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="local_worker", description=__doc__.splitlines()[0])
    parser.add_argument("artifact")
    parser.add_argument("--format", required=True, choices=[ONNX, TORCHSCRIPT])
    parser.add_argument("--input-shape", required=True, help="comma-separated, e.g. 1,1,3200")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--cpus", default="", help="comma-separated CPU ids to pin to (empty: no pinning)")
    parser.add_argument("--serve-loop", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    run, runtime = load_inference(args.artifact, args.format, args.threads)
    shape = tuple(int(d) for d in args.input_shape.split(","))
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if args.serve_loop:
        run(x)
        serve_loop(run, x)
        return
    samples_ms = time_inference(run, x, args.warmup, args.repeats)
    _emit({**summarize_ms(samples_ms), "latency_ms_samples": samples_ms, "runtime": runtime,
           "threads": args.threads, "warmup": args.warmup})


if __name__ == "__main__":
    main()
