"""CLI commands for the codec itself: ``train``, ``light-bank``, ``visqol`` (and ``evaluate``, from ``cli.evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, console, print_json, progress_bar

VisqolModeName = Literal["speech", "audio"]  # trainers.visqol_score.VisqolMode values (a test checks)
VisqolMappingName = Literal["lattice", "exponential"]  # trainers.visqol_score.SpeechMapping values (a test checks)


def train_command(
    config: Annotated[Path, typer.Option("--config", help="Run YAML: candidate + train recipe (see configs/).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for checkpoint.pt; rerun to resume.")] = Path("runs/train"),
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="KEY=VALUE over the config (dotted: train.steps=150, candidate.dsl.threshold=0.2; a train key alone means train.KEY); repeatable.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train a candidate codec with its DSL; checkpoints resume when rerun with the same --out."""
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.footprint import check_buildable
    from dslnas.spaces.overrides import apply_overrides
    from dslnas.spaces.run_config import RunConfig
    from dslnas.spaces.yaml_io import check_writable_dir, load_model
    from dslnas.trainers.train import train

    run = apply_overrides(load_model(RunConfig, config), overrides or ())
    check_buildable(run.candidate, f"--config {config}")
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


def visqol_command(
    reference: Annotated[Path, typer.Argument(help="Reference audio (wav/flac).")],
    degraded: Annotated[Path, typer.Argument(help="Degraded audio (wav/flac).")],
    mode: Annotated[VisqolModeName, typer.Option("--mode", help="speech (16 kHz) or audio (48 kHz).")] = "speech",
    mapping: Annotated[VisqolMappingName, typer.Option("--mapping", help="Speech mode's MOS mapping: lattice "
                                                       "(Google's default) or exponential.")] = "lattice",
    json_out: Annotated[bool, typer.Option("--json", help="Print {\"moslqo\", \"rule\", \"rule_applied\", ...} on stdout.")] = False,
) -> None:
    """ViSQOL v3 MOS-LQO of DEGRADED against REFERENCE, as Google's tool scores it (docs/visqol.md); says
    whether the rule for pairs ViSQOL cannot score (digital silence, a reference too quiet to hear) applied."""
    from dslnas.spaces.errors import UserError
    from dslnas.trainers.visqol_score import SpeechMapping, VisqolMode, score_files

    if mode == "audio" and mapping != "lattice":
        raise UserError(f"--mapping {mapping} is speech mode's; audio mode maps with its SVR")
    score = score_files(reference, degraded, VisqolMode(mode), SpeechMapping(mapping))
    if json_out:
        print_json({"moslqo": score.moslqo, "mode": mode, "mapping": mapping if mode == "speech" else "svr",
                    "rule": score.rule.value, "rule_applied": score.rule_applied, "gain_db": score.gain_db})
    else:
        rule = f" (unscorable-pair rule: {score.rule.value}, gain {score.gain_db:+.1f} dB)" if score.rule_applied else ""
        console.print(f"MOS-LQO {score.moslqo:.3f}{rule}")


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
    if target.is_dir():
        raise UserError(f"--out {target} is a folder; give the bank's file path")
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
    from dslnas.search.cli.evaluate import evaluate_command

    app.command("evaluate")(evaluate_command)
    app.command("visqol")(visqol_command)
