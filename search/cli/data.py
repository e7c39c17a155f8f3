"""CLI command group ``data``: ``data synth`` writes a labelled speech / silence corpus made on this machine;
``data join`` lists several corpora in one manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dslnas.search.cli.common import CommandGroup, JsonOpt, console, print_json, progress_bar
from dslnas.spaces.errors import UserError
from dslnas.spaces.labels import SPEECH

data_app = typer.Typer(cls=CommandGroup, help="Audio data: generate a corpus, join corpora.")


@data_app.command("synth")
def synth_command(
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder to write (must be empty or absent): WAVs and manifest.csv. Required unless listing.")] = None,
    minutes: Annotated[float, typer.Option("--minutes", min=0.01, help="Minutes of audio, half speech, half silence scenes.")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sentences, voices, deliveries and scenes.")] = 0,
    voices: Annotated[str | None, typer.Option(
        "--voices", help="Comma-separated voice ids to speak with (e.g. flite-slt,espeak-f3); default: every "
        "installed Debian voice; Piper voices (piper-joe) only when named. `--voices list` prints the voices "
        "installed here.")] = None,
    rooms: Annotated[bool, typer.Option("--rooms", help="Speech through simulated rooms (RT60 0.15-0.7 s).")] = False,
    microphones: Annotated[bool, typer.Option("--microphones", help="Clips coloured by simulated microphones.")] = False,
    bands: Annotated[str | None, typer.Option(
        "--bands", help="Channels drawn per clip, comma-separated: full, telephone, wideband, resampled.")] = None,
    level_dbfs: Annotated[str | None, typer.Option(
        "--level-dbfs", help="Speech RMS range LOW,HIGH in dBFS (with any recording option: -45,-15).")] = None,
    floor_dbfs: Annotated[str | None, typer.Option(
        "--floor-dbfs", help="Recorder noise floor LOW,HIGH in dBFS, or none (with any recording option: -80,-55).")] = None,
    speaker_variants: Annotated[int, typer.Option(
        "--speaker-variants", help="Talkers per voice: 1 + this-1 pitch/formant/tempo-perturbed ones.")] = 1,
    scenes: Annotated[str | None, typer.Option(
        "--scenes", help="Silence scenes: default, ambience (fan, fridge, traffic, rain, keyboard, far speech), "
        "all, or comma-separated scene ids.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Speak sentences with Debian's synthesisers (flite, festival, espeak-ng; formant fallback with a warning)
    and render AudioSet-style silence scenes; write WAVs and manifest.csv (path,label,speaker,seconds)."""
    from collections import Counter

    from dslnas.trainers.data.speech_synth import synthesize_corpus
    from dslnas.trainers.data.synth_options import corpus_options
    from dslnas.trainers.data.synth_piper import available_piper_voices
    from dslnas.trainers.data.voices import available_voices

    if voices == "list":
        installed = available_voices()
        if json_out:
            print_json([{"voice": v.voice_id, "speaker": v.speaker, "sex": v.sex.value, "engine": v.engine.value}
                        for v in installed] + [{"voice": p.voice_id, "speaker": p.speaker, "sex": p.sex,
                                                "engine": "piper"} for p in available_piper_voices()])
        else:
            for v in installed:
                console.print(f"{v.voice_id:24} {v.speaker:18} {v.sex.value:7} {v.engine.value}", highlight=False)
            for p in available_piper_voices():
                console.print(f"{p.voice_id:24} {p.speaker:18} {p.sex:7} piper", highlight=False)
        return
    if out is None:
        raise UserError("data synth needs --out FOLDER (where the WAVs and manifest.csv go)")
    options = corpus_options(rooms=rooms, microphones=microphones, bands=bands, level_dbfs=level_dbfs,
                             floor_dbfs=floor_dbfs, speaker_variants=speaker_variants, scenes=scenes)
    voice_ids = None if voices is None else [v.strip() for v in voices.split(",") if v.strip()]
    with progress_bar() as bar:
        task = bar.add_task("synth", total=round(minutes * 60), status="seconds of audio")

        def on_progress(done_s: float, total_s: float) -> None:
            bar.update(task, completed=round(done_s), status="seconds of audio")

        manifest = synthesize_corpus(out, minutes, seed, on_progress=on_progress, voices=voice_ids, options=options)
    labels = Counter(e.label for e in manifest.entries)
    speakers = sorted({e.speaker for e in manifest.entries if e.label == SPEECH})
    seconds = sum(e.seconds for e in manifest.entries)
    if json_out:
        print_json({"out": str(out), "manifest": str(out / "manifest.csv"), "clips": dict(labels), "seconds": seconds,
                    "speakers": speakers, "notes": list(manifest.notes)})
        return
    for note in manifest.notes:
        console.print(f"[yellow]warning:[/] {note}", highlight=False)
    console.print(f"wrote {len(manifest.entries)} clips ({seconds / 60:.1f} min: {dict(labels)}) from {len(speakers)} "
                  f"speakers to {out}; train on it with --data {out}", highlight=False, markup=False)


@data_app.command("join")
def join_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write manifest.csv into (must not hold one yet).")],
    manifests: Annotated[list[Path], typer.Argument(
        help="Two or more manifest CSVs (or folders holding manifest.csv), in order.")],
    json_out: JsonOpt = False,
) -> None:
    """Join corpora into one manifest (absolute paths, in the order given; the WAVs stay where they are).

    The speaker-disjoint split shuffles speakers in order of first appearance, so listing the corpus you
    trained on first and adding corpora with only its speakers keeps the same held-out speakers per seed."""
    from collections import Counter

    from dslnas.trainers.data.manifest import join_manifests

    joined = join_manifests(out, manifests)
    labels = Counter(e.label for e in joined.entries)
    if json_out:
        print_json({"manifest": str(joined.csv_path), "clips": dict(labels),
                    "seconds": sum(e.seconds or 0.0 for e in joined.entries), "speakers": list(joined.speakers())})
        return
    console.print(f"wrote {joined.csv_path}: {len(joined.entries)} clips {dict(labels)} from {len(manifests)} manifests",
                  highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
