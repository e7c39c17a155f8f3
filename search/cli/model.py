"""CLI commands for the codec itself: ``train``, ``evaluate``, ``visqol``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, console, print_json, progress_bar

if TYPE_CHECKING:
    from rich.table import Table

    from dslnas.trainers.evaluate import EvaluationResult

VisqolModeName = Literal["speech", "audio"]  # trainers.visqol_score.VisqolMode values (a test checks)


def train_command(
    config: Annotated[Path, typer.Option("--config", help="Run YAML: candidate + train recipe (see configs/).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for checkpoint.pt; rerun to resume.")] = Path("runs/train"),
    json_out: JsonOpt = False,
) -> None:
    """Train a candidate codec with its DSL; checkpoints resume when rerun with the same --out."""
    from dslnas.spaces.run_config import RunConfig
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.yaml_io import check_writable_dir, load_model
    from dslnas.trainers.train import train

    run = load_model(RunConfig, config)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder (checkpoint.pt goes inside it)")
    check_writable_dir(out, "--out folder")
    with progress_bar() as bar:
        task = bar.add_task("train", total=run.train.steps, status="")

        def on_step(step: int, total: int, losses: dict[str, float]) -> None:
            bar.update(task, completed=step, status=f"loss {losses['total']:.3f}")

        result = train(run, out, on_step=on_step)
    payload = {
        "checkpoint": str(result.checkpoint_path),
        "steps": result.steps,
        "first_loss": result.first_loss,
        "final_loss": result.final_loss,
        "seconds": round(result.seconds, 2),
    }
    if json_out:
        print_json(payload)
    else:
        console.print(f"trained {result.steps} steps, loss {result.first_loss:.3f} -> {result.final_loss:.3f}; {result.checkpoint_path}")


def evaluate_command(
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="checkpoint.pt written by `dslnas train`.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Folder of wav/flac, or an AudioSet-style CSV. Default: the run's held-out clips.")] = None,
    threshold: Annotated[Optional[float], typer.Option("--threshold", min=0.0, help="Routing threshold (default: the candidate's).")] = None,
    profile: Annotated[str, typer.Option("--profile", help="Device profile pricing the sweep (name or YAML).")] = "a32-paper",
    oracle: Annotated[bool, typer.Option("--oracle/--no-oracle", help="Also sweep the oracle router (the bound routing can reach; costs ViSQOL time).")] = True,
    json_out: JsonOpt = False,
) -> None:
    """On the streaming runtime: full / light / mixed ViSQOL, light usage, switch-backs, switch rank correlation,
    a threshold sweep priced on --profile and the oracle's bound, per class and overall."""
    from dslnas.trainers.data.layout import data_config_for
    from dslnas.spaces.errors import UserError
    from dslnas.trainers.checkpoint import load_checkpoint
    from dslnas.trainers.codec import build_codec
    from dslnas.trainers.data import evaluation_clips, load_dataset
    from dslnas.trainers.evaluate import evaluate_codec

    if threshold is not None and not math.isfinite(threshold):
        raise UserError(f"--threshold must be a finite number, got {threshold}")
    ckpt = load_checkpoint(checkpoint)
    codec = build_codec(ckpt.run.candidate)
    try:
        codec.load_state_dict(ckpt.model)
    except RuntimeError as err:  # missing / unexpected / mis-shaped tensors
        raise UserError(f"{checkpoint}: the weights do not fit the checkpoint's candidate "
                        f"({str(err).splitlines()[0].rstrip(':.')})") from err
    cfg = ckpt.run.train.data if data is None else data_config_for(data, eval_fraction=0.0)
    clips = load_dataset(cfg, ckpt.run.candidate.encoder.sample_rate_hz, min_samples=ckpt.run.candidate.segment_samples)
    if data is None:
        clips = evaluation_clips(clips, cfg, ckpt.run.candidate.encoder.sample_rate_hz)
    if not clips:
        raise UserError("evaluation set is empty (eval_fraction is 0 and no --data given)")
    with progress_bar() as bar:
        task = bar.add_task("evaluate", total=len(clips), status="")
        result = evaluate_codec(codec, clips, threshold, progress=lambda i, n: bar.update(task, completed=i), oracle=oracle)
    if json_out:
        from dslnas.search.evaluation_summary import evaluation_summary

        print_json(evaluation_summary(result, ckpt.run.candidate, profile))
    else:
        console.print(evaluation_table(result))


def evaluation_table(result: "EvaluationResult") -> "Table":
    from rich.table import Table

    table = Table(title=f"evaluation at threshold {result.threshold:g}")
    for col in ("group", "clips", "ViSQOL full", "light", "mixed", "light usage", "sparsity", "switch MAE"):
        table.add_column(col, justify="right")
    groups = {**result.per_class, "overall": result.overall}
    for name, g in groups.items():
        table.add_row(
            name, str(g.n_clips), f"{g.visqol_full:.2f}", f"{g.visqol_light:.2f}", f"{g.visqol_mixed:.2f}",
            f"{g.light_usage:.0%}", f"{g.sparsity:.0%}", f"{g.switch_mae:.3f}",
        )
    return table


def visqol_command(
    reference: Annotated[Path, typer.Argument(help="Reference audio (wav/flac).")],
    degraded: Annotated[Path, typer.Argument(help="Degraded audio (wav/flac).")],
    mode: Annotated[VisqolModeName, typer.Option("--mode", help="speech (16 kHz) or audio (48 kHz).")] = "speech",
    json_out: Annotated[bool, typer.Option("--json", help="Print {\"moslqo\": ...} on stdout.")] = False,
) -> None:
    """ViSQOL v3 MOS-LQO of DEGRADED against REFERENCE."""
    from dslnas.trainers.visqol_score import VisqolMode, score_files

    moslqo = score_files(reference, degraded, VisqolMode(mode))
    if json_out:
        print_json({"moslqo": moslqo})
    else:
        console.print(f"MOS-LQO {moslqo:.3f}")


def light_bank_command(
    space: Annotated[str, typer.Option("--space", help="Search space whose base, depths, width choices and "
                                       "fine-tune data the bank serves: 'demo', 'paper' or a YAML file.")] = "demo",
    base: Annotated[Optional[str], typer.Option("--base", help="Base checkpoint (default: the space's "
                                                "pretrained base); the bank is written beside it.")] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Distillation steps per switch depth.")] = 3000,
    out: Annotated[Optional[Path], typer.Option("--out", help="Bank file (default: <base>.light.pt, where "
                                                "trials find it).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Distil the base's elastic light tails once (one per switch depth of the space), so that trials start
    their light tails from a long distillation instead of the full tail's sliced channels."""
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.space_presets import load_space
    from dslnas.spaces.yaml_io import check_writable_dir
    from dslnas.trainers.elastic_tail import bank_path, save_bank
    from dslnas.trainers.light_bank import distil_bank
    from dslnas.trainers.pretrained import resolve_init_checkpoint

    chosen = load_space(space)
    name = base or chosen.pretrained_base
    if name is None:
        raise UserError(f"--space {space} names no pretrained base; give --base")
    base_path = resolve_init_checkpoint(name)
    if not base_path.is_file():
        raise UserError(f"--base {name}: no such checkpoint file ({base_path})")
    target = out or bank_path(base_path)
    check_writable_dir(target.parent, "--out folder" if out else "the base's folder (give --out)")
    depths = chosen.switch_depths
    with progress_bar() as bar:
        task = bar.add_task("light bank", total=steps * len(depths), status="")

        def on_step(done: int, total: int, loss: float) -> None:
            bar.update(task, completed=done, status=f"L1 {loss:.4f}")

        bank = distil_bank(base_path, chosen.base, depths, chosen.light_width_choices, chosen.finetune.data, steps,
                           on_step=on_step)
    save_bank(bank, target)
    payload = {"bank": str(target), "base": str(base_path), "depths": list(depths), "steps": steps,
               "seconds": bank.seconds, "bytes": target.stat().st_size}
    if json_out:
        print_json(payload)
    else:
        console.print(f"light-tail bank for depths {list(depths)} ({steps} steps each, {bank.seconds:.0f} s): {target}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("light-bank")(light_bank_command)
    app.command("evaluate")(evaluate_command)
    app.command("visqol")(visqol_command)
