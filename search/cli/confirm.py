"""CLI command ``confirm``: measure front candidates (or one trial's point) on a device, stored beside the prediction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dslnas.hw_models.routing import Pass
from dslnas.hw_models.runners.artifact import ArtifactFormat
from dslnas.hw_models.runners.registry import RUNNERS
from dslnas.search.cli.common import JsonOpt, RunnerCommandOpt, RunnerRepeatsOpt, RunnerReplayOpt, RunnerThreadsOpt, RunnerTimeoutOpt, RunnerWarmupOpt, StorageOpt, console, fail, print_json, quiet_optuna
from dslnas.search.cli.point import CheckpointOpt

if TYPE_CHECKING:
    from dslnas.search.pareto import FrontPoint, ParetoFront
    from dslnas.hw_models.runners.base import DeviceRunner
    from dslnas.search.confirm import ConfirmSettings
    from dslnas.search.confirm_audio import ConfirmAudio
    from dslnas.search.records import ConfirmationEntry


def confirm_command(
    study: Annotated[Optional[str], typer.Option("--study", help="Study name: confirm its front (or --trial's point).")] = None,
    checkpoint: CheckpointOpt = None,
    storage: StorageOpt = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="How many front candidates (recommended first).")] = 3,
    trial: Annotated[Optional[int], typer.Option("--trial", min=0, help="Confirm this trial's point (on the front or not, routed at its recorded threshold) instead of the top-K.")] = None,
    runner: Annotated[str, typer.Option("--runner", help=f"Device runner: {', '.join(sorted(RUNNERS))}.")] = "local",
    command: RunnerCommandOpt = None,
    loop_command: Annotated[Optional[str], typer.Option("--loop-command", help="command runner: back-to-back inference (power).")] = None,
    replay: RunnerReplayOpt = None,
    repeats: RunnerRepeatsOpt = None,
    warmup: RunnerWarmupOpt = None,
    threads: RunnerThreadsOpt = None,
    timeout_s: RunnerTimeoutOpt = None,
    power_meter: Annotated[str, typer.Option("--power-meter", help="none, command or hwmon.")] = "none",
    power_command: Annotated[Optional[str], typer.Option("--power-command", help="command meter: prints mW.")] = None,
    hwmon: Annotated[Optional[Path], typer.Option("--hwmon", help="hwmon meter: /sys/class/hwmon/hwmonN folder.")] = None,
    power_window_s: Annotated[float, typer.Option("--power-window-s", help="Power protocol window (paper: 30 s).")] = 30.0,
    power_repeats: Annotated[int, typer.Option("--power-repeats", help="Power protocol idle/active pairs (paper: 10).")] = 10,
    profile: Annotated[Optional[str], typer.Option("--profile", help="Profile calibrated for the measured device (name or YAML); default: compare with the study's prediction.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="Name of the measured device in the study (default: from the runner).")] = None,
    fmt: Annotated[ArtifactFormat, typer.Option("--format", help="Artifact format to measure.")] = ArtifactFormat.ONNX,
    work_dir: Annotated[Optional[Path], typer.Option("--work-dir", help="Where artifacts go (default: runs/<study>/confirm).")] = None,
    audio: Annotated[str, typer.Option("--audio", help="What the routed run streams: demo (4 s of generated demo clips) or study (the study's own held-out clips: the routing the search measured; longer).")] = "demo",
    json_out: JsonOpt = False,
) -> None:
    """Measure the top-K front candidates' (or --trial's) full and light paths on a device (and, on a runner that runs routed
    programs such as unicorn-arm, the routed mixed run over demo audio or, with --audio study, over the study's own
    held-out clips); store them beside the prediction."""
    from dslnas.hw_models.runners.registry import PowerOptions, RunnerOptions, build_runner
    from dslnas.search.config import DEFAULT_RUNS_ROOT
    from dslnas.search.confirm import ConfirmSettings, confirm_candidates
    from dslnas.search.pareto import compute_pareto_front
    from dslnas.search.storage import load_existing_study, study_dir
    from dslnas.spaces.yaml_io import check_writable_dir

    quiet_optuna()
    options = RunnerOptions(threads=threads, warmup=warmup, repeats=repeats, timeout_s=timeout_s, command=command,
                            loop_command=loop_command, csv_path=None if replay is None else str(replay))
    power = PowerOptions(power_meter, power_command, None if hwmon is None else str(hwmon), power_window_s, power_repeats)
    stream = _audio_choice(audio, checkpoint is None and study is not None)
    device_runner = build_runner(runner, options, power)
    if checkpoint is not None or study is None:
        _confirm_checkpoint(checkpoint, study, trial, device_runner, ConfirmSettings(work_dir or Path("."), device, profile, fmt),
                            json_out, work_dir_given=work_dir is not None)
        return
    loaded = load_existing_study(storage, study)
    points = _chosen_points(compute_pareto_front(loaded), study, top_k, trial)
    settings = ConfirmSettings(work_dir or study_dir(study, Path(DEFAULT_RUNS_ROOT)) / "confirm", device, profile, fmt,
                               audio=stream)
    check_writable_dir(settings.work_dir, "--work-dir")  # before any conversion or measurement

    def show(number: int, entry: "ConfirmationEntry") -> None:
        if not json_out:
            console.print(_entry_line(f"trial {number}", entry), highlight=False, markup=False)

    added = confirm_candidates(loaded, points, device_runner, settings, on_entry=show)
    if json_out:
        print_json({"study": study, "confirmed": {str(n): [e.to_json() for e in es] for n, es in added.items()}})
    if not any(e.ok for entries in added.values() for e in entries):
        fail(f"nothing was measured on runner {runner!r} (every run failed; each reason is stored with its trial)", 1)


def _audio_choice(audio: str, with_study: bool) -> "ConfirmAudio":
    """``--audio`` as a :class:`ConfirmAudio`; a bad name, or ``study`` without a study's point, is one error line."""
    from dslnas.search.confirm_audio import ConfirmAudio

    choices = [a.value for a in ConfirmAudio]
    if audio not in choices:
        fail(f"--audio: {audio!r} is not one of {', '.join(choices)}")
    if audio == ConfirmAudio.STUDY.value and not with_study:
        fail("--audio study streams a study's held-out clips: give --study (and --trial), not --checkpoint")
    return ConfirmAudio(audio)


def _entry_line(who: str, e: "ConfirmationEntry") -> str:
    head = f"{who} {e.path}: predicted {e.predicted_latency_ms:.3f} ms ({e.predicted_profile})"
    if not e.ok:
        return f"{head}, not measured: {e.failure}"
    error = f"{e.error_pct:+.1f} %" if e.error_pct is not None else "no error: prediction is 0"
    line = f"{head}, measured {e.measured_latency_ms:.3f} ms on {e.device} ({error}, compared: {e.comparison.value})"
    if e.path == Pass.MIXED and "light_usage" in e.extra:  # the routed run: predicted at the measured light usage
        x = e.extra
        line += (f"; routed over {x['segments']} segments: mean, median {x['median_ms']:.3f} / p90 {x['p90_ms']:.3f} ms, "
                 f"light usage {x['light_usage']:.0%}, {x['switch_backs']} switch-backs, {x['weights']}"
                 + (f"; audio: {x['audio']}" if x.get("audio") else ""))
        line += _parts_text(x)
    return line


def _parts_text(x: dict) -> str:
    """A two-core routed run, per segment: each part and the link measured vs predicted, the bytes and wake-ups."""
    from dslnas.search.confirm_parts import PartCheck

    if not x.get("parts"):
        return ""
    parts = "; ".join(PartCheck.from_json(c).text() for c in x["parts"])
    return (f"\n  per segment (measured vs predicted): {parts}; link bytes {x['link_bytes_per_segment_mean']:.1f} vs "
            f"{x['predicted_link_bytes_per_segment']:.1f}, wake-ups {x['wakeups'] / max(1, x['segments']):.3f} vs "
            f"{x['predicted_wakeups_per_segment']:.3f} ({x['predicted_placement']})")


class _MissingOption(typer.BadParameter):
    """A missing either-or option: the parser's one ``error: dslnas confirm: Missing option ...`` line."""

    def format_message(self) -> str:
        return self.message


def _confirm_checkpoint(checkpoint: str | None, study: str | None, trial: int | None, runner: "DeviceRunner",
                        settings: "ConfirmSettings", json_out: bool, work_dir_given: bool) -> None:
    """``--checkpoint pretrained:NAME`` (or a checkpoint file): its paths measured beside the prediction, printed,
    not stored (``search.confirm_point``)."""
    from dataclasses import replace

    from dslnas.search.cli.point import describe_point, point_from_options
    from dslnas.search.confirm_point import confirm_point, default_work_dir as work_dir_of
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir

    if checkpoint is None:
        raise _MissingOption("Missing option '--study' or '--checkpoint': give --study S (its front, or --trial N's "
                             "point) or --checkpoint (pretrained:NAME or a checkpoint file)")
    if study is not None or trial is not None:
        raise UserError("--checkpoint confirms that codec alone: give it without --study and --trial")
    point = point_from_options(checkpoint, None, None, None)
    settings = settings if work_dir_given else replace(settings, work_dir=work_dir_of(point))
    check_writable_dir(settings.work_dir, "--work-dir")  # before any conversion or measurement
    if not json_out:
        describe_point(point)
    entries = confirm_point(point, runner, settings)
    if json_out:
        print_json({"point": point.to_json(), "stored": False, "confirmed": [e.to_json() for e in entries]})
    else:
        for entry in entries:
            console.print(_entry_line(point.label, entry), highlight=False, markup=False)
    if not any(e.ok for e in entries):
        fail(f"nothing was measured on runner {runner.name!r}: " + "; ".join(f"{e.path}: {e.failure}" for e in entries), 1)


def _chosen_points(front: "ParetoFront", study: str, top_k: int, trial: int | None) -> "tuple[FrontPoint, ...]":
    """The front's first ``top_k`` feasible points, or the point of ``trial`` (any completed trial with a record)."""
    from dslnas.spaces.errors import UserError

    if trial is not None:
        chosen = tuple(p for p in front.points if p.number == trial)
        if not chosen:
            raise UserError(f"study {study!r} has no completed trial {trial} with a record to confirm")
        return chosen
    if not front.pareto:
        raise UserError(f"study {study!r} has no feasible completed trial to confirm")
    return front.pareto[:top_k]


def register(app: typer.Typer) -> None:
    app.command("confirm")(confirm_command)
