"""``--data`` layouts (told from the path), lazy clips, padding of short clips, and speaker-disjoint splits.

Every fixture is written into ``tmp_path``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.spaces.errors import DataError
from dslnas.trainers.data.layout import data_config_for
from dslnas.trainers.data.manifest import join_manifests, read_manifest, split_manifest
from dslnas.trainers.data import (
    Manifest,
    ManifestEntry,
    ShortClipWarning,
    index_dataset,
    load_audio,
    load_dataset,
    random_crops,
    train_eval_split,
)

SR = 16_000


def noise(seconds: float, rate_hz: int = SR, seed: int = 0) -> np.ndarray:
    return 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * rate_hz))


def write(path: Path, seconds: float = 1.0, rate_hz: int = SR, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), noise(seconds, rate_hz, seed), rate_hz, subtype="PCM_16")
    return path


def libritts(root: Path) -> Path:
    for name in ("19/198/19_198_000000_000000", "19/198/19_198_000000_000001", "103/1241/103_1241_000001_000002",
                 "27/124/27_124_000000_000003"):
        write(root / f"{name}.wav", 1.0, 24_000)
    (root / "19" / "198" / "19_198_000000_000000.normalized.txt").write_text("text")
    return root


def labelled(root: Path) -> Path:
    write(root / "Speech" / "a.wav")
    write(root / "speech" / "sub" / "b.flac", 0.5)
    write(root / "silence" / "c.wav", 2.0)
    return root


def manifest_dir(root: Path, text: str | None = None) -> Path:
    write(root / "clips" / "one.wav", 1.0)
    write(root / "clips" / "two.wav", 0.5)
    write(root / "three.wav", 2.0)
    csv_text = text or ("# my corpus\npath,label,speaker,seconds\nclips/one.wav,Speech,alice,1.000\n"
                        "clips/two.wav,speech,bob,\nthree.wav,silence,,2\n")
    (root / "manifest.csv").write_text(csv_text)
    return root


def test_from_path_tells_each_layout_apart(tmp_path: Path) -> None:
    def kind_of(path: Path) -> DatasetKind:
        return data_config_for(path).kind

    assert kind_of(manifest_dir(tmp_path / "m") / "manifest.csv") is DatasetKind.MANIFEST
    assert data_config_for(tmp_path / "m").path == str(tmp_path / "m" / "manifest.csv")
    (tmp_path / "segments.csv").write_text("# YTID, start_seconds, end_seconds, positive_labels\nx, 0, 1, Speech\n")
    assert kind_of(tmp_path / "segments.csv") is DatasetKind.AUDIOSET
    assert kind_of(tmp_path / "missing.csv") is DatasetKind.AUDIOSET
    assert kind_of(libritts(tmp_path / "tts")) is DatasetKind.LIBRITTS
    assert kind_of(labelled(tmp_path / "lab")) is DatasetKind.LABELLED_FOLDER
    write(tmp_path / "flat" / "x.wav")
    write(tmp_path / "flat" / "sub" / "y.wav")
    assert kind_of(tmp_path / "flat") is DatasetKind.FOLDER
    assert kind_of(tmp_path / "nowhere") is DatasetKind.FOLDER
    assert data_config_for(tmp_path / "lab", eval_fraction=0.0).eval_fraction == 0.0


def test_labelled_folder_takes_labels_from_first_level_folders(tmp_path: Path) -> None:
    clips = load_dataset(data_config_for(labelled(tmp_path)), SR, min_samples=1)
    assert [(c.clip_id, c.label, c.num_samples) for c in clips] == [
        ("Speech/a.wav", "speech", SR), ("silence/c.wav", "silence", 2 * SR), ("speech/sub/b.flac", "speech", SR // 2),
    ]
    write(tmp_path / "stray.wav")
    with pytest.raises(DataError, match="stray.wav: audio directly in a labelled folder"):
        load_dataset(DataConfig(kind=DatasetKind.LABELLED_FOLDER, path=str(tmp_path)), SR, 1)


def test_libritts_keeps_speakers_and_splits_them_apart(tmp_path: Path) -> None:
    clips = load_dataset(data_config_for(libritts(tmp_path)), SR, min_samples=1)
    assert [(c.clip_id, c.speaker, c.label, c.num_samples) for c in clips] == [
        ("103_1241_000001_000002", "103", "speech", SR), ("19_198_000000_000000", "19", "speech", SR),
        ("19_198_000000_000001", "19", "speech", SR), ("27_124_000000_000003", "27", "speech", SR),
    ]
    for seed in range(8):
        train, held_out = train_eval_split(clips, 0.34, seed)
        assert held_out and {c.speaker for c in train}.isdisjoint(c.speaker for c in held_out)


def test_manifest_csv_paths_are_relative_to_it(tmp_path: Path) -> None:
    root = manifest_dir(tmp_path)
    clips = load_dataset(data_config_for(root), SR, min_samples=1)
    assert [(c.clip_id, c.label, c.speaker, c.num_samples) for c in clips] == [
        ("clips/one.wav", "speech", "alice", SR), ("clips/two.wav", "speech", "bob", SR // 2),
        ("three.wav", "silence", None, 2 * SR),
    ]
    assert torch.equal(clips[2].audio, load_audio(root / "three.wav", SR))


@pytest.mark.parametrize(
    "csv_text, problem",
    [
        ("path,label,voice\nclips/one.wav,speech,x\n", "line 1: unknown column 'voice'"),
        ("path,speaker\nclips/one.wav,x\n", "line 1: header lacks the 'label' column"),
        ("path,label\nclips/one.wav,speech\nclips/two.wav\n", "line 3: expected 2 fields"),
        ("path,label\nclips/one.wav,\n", "line 2: empty label"),
        ("path,label,seconds\nclips/one.wav,speech,long\n", "line 2: seconds 'long' is not a number"),
        ("path,label,seconds\nclips/one.wav,speech,1.5\n", "line 2: seconds is 1.5 but clips/one.wav holds 1.000 s"),
        ("path,label\nclips/one.wav,speech\nclips/one.wav,silence\n", "line 3: path clips/one.wav repeats line 2"),
        ("path,label\nclips/ghost.wav,speech\n", "ghost.wav: audio file not found (" ),
    ],
)
def test_manifest_errors_name_the_line(tmp_path: Path, csv_text: str, problem: str) -> None:
    root = manifest_dir(tmp_path, csv_text)
    with pytest.raises(DataError) as excinfo:
        load_dataset(data_config_for(root), SR, 1)
    message = str(excinfo.value)
    assert problem in message and "\n" not in message and "manifest.csv" in message


def test_manifest_written_by_the_corpus_reads_back(tmp_path: Path) -> None:
    entries = (ManifestEntry("a/x.wav", "speech", "v1", 1.0), ManifestEntry("b/y.wav", "silence", "hvac", 0.5))
    for entry in entries:
        write(tmp_path / entry.path, entry.seconds or 1.0)
    Manifest(tmp_path, entries).write()
    clips = load_dataset(data_config_for(tmp_path), SR, min_samples=1)
    assert [(c.clip_id, c.label, c.speaker) for c in clips] == [("a/x.wav", "speech", "v1"), ("b/y.wav", "silence", "hvac")]


def test_clips_are_read_lazily_and_crops_read_only_their_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(3):
        write(tmp_path / f"c{k}.wav", 20.0, 44_100, seed=k)
    reads: list[tuple[int, int | None]] = []
    real_read = soundfile.read

    def spy(path, start=0, stop=None, **kwargs):  # type: ignore[no-untyped-def]
        reads.append((start, stop))
        return real_read(path, start=start, stop=stop, **kwargs)

    monkeypatch.setattr(soundfile, "read", spy)
    clips = load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(tmp_path)), SR, min_samples=1)
    assert reads == [] and not any(c.in_memory for c in clips) and clips[0].num_samples == 20 * SR
    batch = random_crops(clips, 4, 8000, torch.Generator().manual_seed(0))
    assert batch.shape == (4, 1, 8000) and len(reads) == 4
    assert all(stop is not None and stop - start < 8000 * 44_100 / SR + 4000 for start, stop in reads)  # + filter margin
    monkeypatch.setattr(soundfile, "read", real_read)
    whole = load_audio(tmp_path / "c1.wav", SR)
    assert torch.allclose(clips[1].crop(123_456, 8000), whole[123_456:131_456], atol=1e-6)
    assert torch.allclose(clips[1].audio, whole, atol=1e-6)


def test_short_clips_are_padded_counted_and_do_not_move_the_split(tmp_path: Path) -> None:
    for k in range(12):
        write(tmp_path / "speech" / f"{k:02d}.wav", 0.3 if k % 3 == 0 else 1.5, seed=k)
    cfg = data_config_for(tmp_path)
    with pytest.warns(ShortClipWarning, match=r"4 of 12 clips are shorter than 0\.80 s"):
        for_training = load_dataset(cfg, SR, min_samples=int(0.8 * SR))
    index = index_dataset(cfg, SR, min_samples=int(0.8 * SR))
    assert index.padded_clip_ids == ("speech/00.wav", "speech/03.wav", "speech/06.wav", "speech/09.wav")
    assert all(c.num_samples >= int(0.8 * SR) for c in for_training)
    padded = for_training[0].audio
    assert padded[: int(0.3 * SR)].abs().sum() > 0 and not padded[int(0.3 * SR) :].any()
    with pytest.warns(ShortClipWarning, match=r"4 of 12 clips are shorter than 0\.40 s"):
        for_eval = load_dataset(cfg, SR, min_samples=int(0.4 * SR))
    evals = [[c.clip_id for c in train_eval_split(clips, 0.25, seed=1)[1]] for clips in (for_training, for_eval)]
    assert evals[0] == evals[1]
    assert random_crops(for_training, 8, int(0.8 * SR), torch.Generator()).shape == (8, 1, int(0.8 * SR))


def test_a_generated_corpus_is_a_speaker_disjoint_dataset(tmp_path: Path) -> None:
    from dslnas.trainers.data.speech_synth import SynthFallbackWarning, synthesize_corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SynthFallbackWarning)  # formant speech where no synthesiser is installed
        manifest = synthesize_corpus(tmp_path / "corpus", 0.3, seed=2)
    cfg = data_config_for(tmp_path / "corpus")
    assert cfg.kind is DatasetKind.MANIFEST
    clips = load_dataset(cfg, SR, min_samples=1)
    assert [c.clip_id for c in clips] == [e.path for e in manifest.entries]
    assert all(c.speaker for c in clips) and {c.label for c in clips} == {"speech", "silence"}
    train, held_out = train_eval_split(clips, 0.3, seed=0)
    assert {c.speaker for c in train}.isdisjoint(c.speaker for c in held_out)



def test_joined_manifests_keep_order_files_and_the_first_corpus_held_out_speakers(tmp_path: Path) -> None:
    def corpus(root: Path, speakers: list[str], seed: int) -> Path:
        entries = []
        for i, speaker in enumerate(speakers):
            for label in ("speech", "silence"):
                name = f"{label}/{speaker}-{i}.wav"
                write(root / name, 0.25, seed=seed + i)
                entries.append(ManifestEntry(name, label, f"{label}-{speaker}", 0.25))
        Manifest(root, tuple(entries)).write()
        return root

    first = corpus(tmp_path / "a", [f"s{i}" for i in range(8)], seed=0)
    second = corpus(tmp_path / "b", ["s5", "s1", "s7", "s0"], seed=100)  # only first's speakers, in another order
    joined = join_manifests(tmp_path / "ab", [first, second / "manifest.csv"])
    assert len(joined.entries) == 24 and all(Path(e.path).is_absolute() for e in joined.entries)
    assert Path(joined.entries[0].path) == (first / joined.entries[0].path.split("/a/")[-1]).resolve()
    clips = load_dataset(data_config_for(tmp_path / "ab"), SR, min_samples=1)
    assert len(clips) == 24
    for seed in range(5):
        held_alone = {e.speaker for e in split_manifest(read_manifest(first / "manifest.csv"), 0.25, seed)[1].entries}
        held_joined = {e.speaker for e in split_manifest(read_manifest(tmp_path / "ab" / "manifest.csv"), 0.25, seed)[1].entries}
        assert held_alone == held_joined


@pytest.mark.parametrize("case, problem", [("one", "at least two manifests"), ("twice", "listed by more than one manifest"),
                                           ("exists", "already exists")])
def test_join_refuses_what_it_cannot_join(tmp_path: Path, case: str, problem: str) -> None:
    first = manifest_dir(tmp_path / "a")
    out = tmp_path / "out"
    if case == "exists":
        join_manifests(out, [first, manifest_dir(tmp_path / "b")])
    with pytest.raises(DataError, match=problem):
        join_manifests(out, [first] if case == "one" else [first, first if case == "twice" else manifest_dir(tmp_path / "c")])
