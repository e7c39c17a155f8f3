"""The data layer: audio files, clips, splits, crops, demo audio and the dataset loaders.

Every fixture is written into ``tmp_path``; nothing is downloaded.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from dslnas.spaces.run_config import DataConfig, DatasetKind
from dslnas.spaces.errors import DataError
from dslnas.trainers.data import (
    Clip,
    ShortClipWarning,
    index_dataset,
    generate_demo_clips,
    load_audio,
    load_dataset,
    random_crops,
    save_audio,
    train_eval_split,
)
from dslnas.trainers.data.datasets import audioset_label

SR = 16_000


def tone(seconds: float, rate_hz: int, freq_hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    """A ``[T]`` float64 sine."""
    t_s = np.arange(round(seconds * rate_hz)) / rate_hz
    return amplitude * np.sin(2 * np.pi * freq_hz * t_s)


def write(path: Path, audio: np.ndarray, rate_hz: int, subtype: str = "PCM_16") -> Path:
    """Write ``audio`` (``[T]`` or ``[T, C]``) with soundfile, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), audio, rate_hz, subtype=subtype)
    return path


def assert_data_error(excinfo: pytest.ExceptionInfo[DataError], *fragments: object) -> None:
    """The error is one line and names every fragment."""
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert str(fragment) in message, f"{fragment!r} not in {message!r}"


# --- audio files -------------------------------------------------------------------------------------


def test_load_resamples_44k_stereo_to_16k_mono(tmp_path: Path) -> None:
    left = tone(1.5, 44_100, 440.0, 0.6)
    path = write(tmp_path / "stereo.wav", np.stack([left, 0.5 * left], axis=1), 44_100)
    audio = load_audio(path, SR)
    assert audio.dtype == torch.float32 and audio.shape == (24_000,)
    spectrum = np.abs(np.fft.rfft(audio.numpy()))
    assert np.argmax(spectrum) * SR / audio.numel() == pytest.approx(440.0, abs=1.0)
    rms = float(audio[2000:-2000].pow(2).mean().sqrt())
    assert rms == pytest.approx(0.75 * 0.6 / np.sqrt(2), rel=0.02)  # channel mean, not sum


def test_load_flac_keeps_rate_when_equal(tmp_path: Path) -> None:
    samples = tone(0.5, SR)
    audio = load_audio(write(tmp_path / "a.flac", samples, SR), SR)
    assert audio.shape == (8000,)
    assert np.allclose(audio.numpy(), samples, atol=1e-4)


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.wav"


def _zero_bytes(tmp_path: Path) -> Path:
    (tmp_path / "zero.wav").write_bytes(b"")
    return tmp_path / "zero.wav"


def _corrupt(tmp_path: Path) -> Path:
    (tmp_path / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    return tmp_path / "corrupt.wav"


def _no_samples(tmp_path: Path) -> Path:
    return write(tmp_path / "nosamples.wav", np.zeros((0, 1)), SR)


def _nan_samples(tmp_path: Path) -> Path:
    samples = tone(0.5, SR)
    samples[100] = np.nan
    return write(tmp_path / "nan.wav", samples, SR, subtype="FLOAT")


@pytest.mark.parametrize(
    "make, problem",
    [
        (_missing, "not found"),
        (_zero_bytes, "empty (0 bytes)"),
        (_corrupt, "cannot read audio"),
        (_no_samples, "no samples"),
        (_nan_samples, "non-finite"),
    ],
)
def test_load_audio_errors_name_the_file(tmp_path: Path, make, problem: str) -> None:
    path = make(tmp_path)
    with pytest.raises(DataError) as excinfo:
        load_audio(path, SR)
    assert_data_error(excinfo, path, problem)


def test_save_audio_writes_16_bit_pcm_and_clips(tmp_path: Path) -> None:
    samples = torch.tensor([0.0, 0.5, -0.25, 2.0, -3.0])
    path = save_audio(tmp_path / "out" / "x.wav", samples, 8000)
    info = soundfile.info(str(path))
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", 8000, 1)
    back = load_audio(path, 8000).numpy()
    assert np.allclose(back, [0.0, 0.5, -0.25, 1.0, -1.0], atol=1e-4)
    with pytest.raises(DataError) as excinfo:
        save_audio(tmp_path / "bad.wav", torch.tensor([0.0, float("nan")]), 8000)
    assert_data_error(excinfo, tmp_path / "bad.wav", "non-finite")


# --- clips, split, crops -----------------------------------------------------------------------------


def _clips(labels: list[str], samples: int = 100) -> list[Clip]:
    return [Clip(f"c{i}", torch.full((samples,), float(i)), label) for i, label in enumerate(labels)]


def test_train_eval_split_is_stratified_and_deterministic() -> None:
    clips = _clips(["speech"] * 8 + ["silence"] * 4 + ["dog"] * 2 + ["rare"])
    train, held_out = train_eval_split(clips, 0.25, seed=3)
    assert {c.clip_id for c in train}.isdisjoint(c.clip_id for c in held_out)
    assert len(train) + len(held_out) == len(clips)
    eval_labels = [c.label for c in held_out]
    assert (eval_labels.count("speech"), eval_labels.count("silence"), eval_labels.count("dog")) == (2, 1, 1)
    assert "rare" not in eval_labels  # a lone clip stays in train
    assert {c.label for c in train} == {"speech", "silence", "dog", "rare"}
    again = train_eval_split(clips, 0.25, seed=3)
    assert [c.clip_id for c in again[1]] == [c.clip_id for c in held_out]
    assert train_eval_split(clips, 0.0, seed=3) == (list(clips), [])
    with pytest.raises(ValueError):
        train_eval_split(clips, 1.0, seed=3)


def test_train_eval_split_seed_changes_choice() -> None:
    clips = _clips(["speech"] * 20)
    picks = {tuple(c.clip_id for c in train_eval_split(clips, 0.25, seed)[1]) for seed in range(5)}
    assert len(picks) > 1


def test_random_crops_shape_content_and_determinism() -> None:
    clips = [Clip(f"c{i}", torch.arange(1000, dtype=torch.float32) + 10_000 * i, "x") for i in range(3)]
    batch = random_crops(clips, 5, 256, torch.Generator().manual_seed(0))
    assert batch.shape == (5, 1, 256) and batch.dtype == torch.float32
    diffs = batch[:, 0, 1:] - batch[:, 0, :-1]
    assert torch.all(diffs == 1)  # each crop is a contiguous slice of one clip
    again = random_crops(clips, 5, 256, torch.Generator().manual_seed(0))
    assert torch.equal(batch, again)
    assert random_crops(clips, 2, 1000, torch.Generator()).shape == (2, 1, 1000)  # crop == clip length


def test_random_crops_rejects_a_short_clip_by_name() -> None:
    clips = _clips(["x", "x"], samples=300) + [Clip("tiny-one", torch.zeros(50), "x")]
    with pytest.raises(DataError) as excinfo:
        random_crops(clips, 4, 256, torch.Generator())
    assert_data_error(excinfo, "tiny-one", "256")


# --- demo audio -----------------------------------------------------------------------------------------


def _frame_stats(audio: torch.Tensor, frame: int = 512) -> tuple[float, float, float]:
    """(RMS dBFS, std of per-frame level in dB, std of per-frame spectral centroid in Hz)."""
    x = audio.double().numpy()
    frames = x[: x.size // frame * frame].reshape(-1, frame) * np.hanning(frame)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs_hz = np.fft.rfftfreq(frame, 1 / SR)
    level_db = 10 * np.log10(power.sum(axis=1) + 1e-20)
    centroid_hz = (power * freqs_hz).sum(axis=1) / (power.sum(axis=1) + 1e-30)
    return 10 * np.log10(np.mean(x**2)), float(np.std(level_db)), float(np.std(centroid_hz))


def test_demo_clips_are_deterministic_labelled_and_fast() -> None:
    start = time.perf_counter()
    clips = generate_demo_clips(24, 2.0, SR, seed=7)
    assert time.perf_counter() - start < 1.5
    again = generate_demo_clips(24, 2.0, SR, seed=7)
    assert all(torch.equal(a.audio, b.audio) for a, b in zip(clips, again))
    other = generate_demo_clips(24, 2.0, SR, seed=8)
    assert not any(torch.equal(a.audio, b.audio) for a, b in zip(clips, other))
    assert [c.label for c in clips].count("speech") == 12
    assert [c.label for c in clips].count("silence") == 12
    assert len({c.clip_id for c in clips}) == 24
    assert all(c.audio.shape == (32_000,) and c.audio.dtype == torch.float32 for c in clips)
    assert torch.equal(generate_demo_clips(3, 2.0, SR, seed=7)[2].audio, clips[2].audio)


def test_demo_speech_is_louder_and_more_varied_than_silence() -> None:
    clips = generate_demo_clips(12, 2.0, SR, seed=0)
    for clip in clips:
        peak_dbfs = 20 * np.log10(float(clip.audio.abs().max()))
        rms_dbfs, level_std_db, centroid_std_hz = _frame_stats(clip.audio)
        assert np.isfinite(clip.audio.numpy()).all()
        if clip.label == "speech":
            assert -6.5 <= peak_dbfs <= -2.5
            assert level_std_db > 8.0 and centroid_std_hz > 500.0
        else:
            assert -50.5 <= rms_dbfs <= -34.5
            assert level_std_db < 4.0 and centroid_std_hz < 400.0


def test_demo_audio_at_other_rates_and_lengths() -> None:
    clips = generate_demo_clips(2, 0.3, 8000, seed=-1)
    assert [c.audio.shape for c in clips] == [(2400,), (2400,)]
    assert all(np.isfinite(c.audio.numpy()).all() and c.audio.abs().max() > 0 for c in clips)


# --- datasets -------------------------------------------------------------------------------------------


def test_demo_dataset_uses_the_config() -> None:
    cfg = DataConfig(kind=DatasetKind.DEMO, demo_clips=4, demo_clip_seconds=1.0, seed=5)
    clips = load_dataset(cfg, SR, min_samples=6400)
    assert [c.clip_id for c in clips] == ["demo-000-speech", "demo-001-silence", "demo-002-speech",
                                         "demo-003-silence"]
    assert torch.equal(clips[1].audio, generate_demo_clips(4, 1.0, SR, 5)[1].audio)


def test_folder_dataset_finds_wav_and_flac_recursively(tmp_path: Path) -> None:
    write(tmp_path / "b.wav", tone(1.0, 22_050), 22_050)
    write(tmp_path / "sub" / "a.FLAC", tone(0.5, SR), SR)
    (tmp_path / "notes.txt").write_text("not audio")
    clips = load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(tmp_path)), SR, min_samples=800)
    assert [(c.clip_id, c.label, c.num_samples) for c in clips] == [
        ("b.wav", "unknown", 16_000),
        ("sub/a.FLAC", "unknown", 8000),
    ]


def test_folder_dataset_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(missing)), SR, 1)
    assert_data_error(excinfo, missing, "not found")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(tmp_path / "empty")), SR, 1)
    assert_data_error(excinfo, tmp_path / "empty", "no audio files")
    short = tmp_path / "short"
    write(short / "ok.wav", tone(1.0, SR), SR)
    write(short / "tiny.wav", tone(0.2, SR), SR)
    with pytest.warns(ShortClipWarning, match=r"1 of 2 clips are shorter than 0\.40 s and were zero-padded to it \(tiny\.wav\)"):
        clips = load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(short)), SR, min_samples=6400)
    assert [(c.clip_id, c.num_samples) for c in clips] == [("ok.wav", 16_000), ("tiny.wav", 6400)]
    tiny = clips[1].audio
    assert torch.allclose(tiny[:3200], load_audio(short / "tiny.wav", SR)) and not tiny[3200:].any()
    index = index_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(short)), SR, min_samples=6400)
    assert index.padded_clip_ids == ("tiny.wav",)
    _corrupt(short)
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(kind=DatasetKind.FOLDER, path=str(short)), SR, min_samples=1)
    assert_data_error(excinfo, short / "corrupt.wav", "cannot read audio")


def test_libritts_layout(tmp_path: Path) -> None:
    for name, seconds in [("19/198/19_198_000000_000001", 1.0), ("19/198/19_198_000000_000000", 0.5),
                          ("103/1241/103_1241_000001_000002", 0.75)]:
        write(tmp_path / f"{name}.wav", tone(seconds, 24_000), 24_000)
    (tmp_path / "19" / "198" / "19_198_000000_000000.normalized.txt").write_text("text")
    clips = load_dataset(DataConfig(kind=DatasetKind.LIBRITTS, path=str(tmp_path)), SR, min_samples=1)
    assert [(c.clip_id, c.label, c.num_samples) for c in clips] == [
        ("103_1241_000001_000002", "speech", 12_000),
        ("19_198_000000_000000", "speech", 8000),
        ("19_198_000000_000001", "speech", 16_000),
    ]
    stray = write(tmp_path / "19" / "198" / "other.wav", tone(0.5, SR), SR)
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(kind=DatasetKind.LIBRITTS, path=str(tmp_path)), SR, min_samples=1)
    assert_data_error(excinfo, stray, "LibriTTS")


AUDIOSET_CSV = """\
# Segments csv created Sun Mar  5 10:54:31 2017
# num_ytids=4, num_segs=4, num_unique_labels=3, num_positive_labels=5
# YTID, start_seconds, end_seconds, positive_labels
full-video, 1.000, 2.500, "/m/09x0r,/t/dd00088"

pre-cut_1, 30.000, 31.000, "/m/028v0c"
named, 0.000, 0.800, "Dog,Speech"
other, 0.000, 0.600, "/m/0bt9lr, /m/05tny_"
"""


def _audioset(tmp_path: Path, csv_text: str = AUDIOSET_CSV, audio_dir: Path | None = None) -> DataConfig:
    folder = audio_dir or tmp_path
    write(folder / "full-video.wav", tone(3.0, 44_100), 44_100)  # a whole recording: cropped
    write(folder / "pre-cut_1.flac", tone(1.0, SR), SR)  # the segment alone: used whole
    write(folder / "named.wav", tone(0.8, SR), SR)
    write(folder / "other.wav", tone(0.6, SR), SR)
    csv_path = tmp_path / "segments.csv"
    csv_path.write_text(csv_text)
    return DataConfig(kind=DatasetKind.AUDIOSET, path=str(csv_path),
                      audio_dir=str(audio_dir) if audio_dir else None)


def test_audioset_csv_crops_and_labels(tmp_path: Path) -> None:
    clips = load_dataset(_audioset(tmp_path, audio_dir=tmp_path / "audio"), SR, min_samples=1600)
    assert [(c.clip_id, c.label, c.num_samples) for c in clips] == [
        ("full-video", "speech", 24_000),
        ("pre-cut_1", "silence", 16_000),
        ("named", "speech", 12_800),
        ("other", "/m/0bt9lr", 9600),
    ]
    whole = load_audio(tmp_path / "audio" / "full-video.wav", SR)
    assert whole.numel() == 48_000 and torch.equal(clips[0].audio, whole[16_000:40_000])


def test_audioset_label_rules() -> None:
    assert audioset_label(["/m/09x0r"]) == "speech"
    assert audioset_label(["Silence"]) == "silence"
    assert audioset_label(["/m/05zppz", "/m/09x0r"]) == "speech"
    assert audioset_label(["Music", "Guitar"]) == "music"


def test_audioset_header_line_is_optional(tmp_path: Path) -> None:
    text = "YTID,start_seconds,end_seconds,positive_labels\nnamed,0,0.8,Speech\n"
    clips = load_dataset(_audioset(tmp_path, text), SR, min_samples=1)
    assert [(c.clip_id, c.label) for c in clips] == [("named", "speech")]


@pytest.mark.parametrize(
    "bad_line, problem",
    [
        ("bad, 0.0, 1.0, Speech, Extra", "malformed row"),
        ("bad, zero, 1.0, Speech", "malformed row (start_seconds 'zero' is not a number)"),
        ("bad, 0.5", "malformed row (end_seconds '' is not a number)"),
        ("bad, 2.0, 1.0, Speech", "end_seconds 1 is not after start_seconds 2"),
        ("named, 0.0, 0.8, Speech", "YTID named repeats line 7"),
    ],
)
def test_audioset_bad_rows_name_their_line(tmp_path: Path, bad_line: str, problem: str) -> None:
    cfg = _audioset(tmp_path, AUDIOSET_CSV + bad_line + "\n")
    with pytest.raises(DataError) as excinfo:
        load_dataset(cfg, SR, min_samples=1)
    assert_data_error(excinfo, "segments.csv line 9", problem)


def test_audioset_missing_csv_and_audio(tmp_path: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset(DataConfig(kind=DatasetKind.AUDIOSET, path=str(tmp_path / "none.csv")), SR, 1)
    assert_data_error(excinfo, tmp_path / "none.csv", "not found")
    cfg = _audioset(tmp_path, AUDIOSET_CSV + "ghost, 0.0, 1.0, Speech\n")
    with pytest.raises(DataError) as excinfo:
        load_dataset(cfg, SR, min_samples=1)
    assert_data_error(excinfo, tmp_path / "ghost.wav", "YTID ghost", "line 9", "not found")


def test_audioset_segment_beyond_a_long_recording(tmp_path: Path) -> None:
    cfg = _audioset(tmp_path, "full-video, 2.0, 4.0, Speech\n")  # a 3 s file, neither cut nor long enough
    with pytest.raises(DataError) as excinfo:
        load_dataset(cfg, SR, min_samples=1)
    assert_data_error(excinfo, tmp_path / "full-video.wav", "3.00 s")


def test_audioset_extra_field_in_the_only_row(tmp_path: Path) -> None:
    cfg = _audioset(tmp_path, "# one row\nnamed, 0.0, 0.8, Speech, Dog\n")
    with pytest.raises(DataError) as excinfo:
        load_dataset(cfg, SR, min_samples=1)
    assert_data_error(excinfo, "segments.csv line 2", "malformed row (expected 4 fields")


def test_evaluation_clips_are_the_held_out_side_cut_to_eval_clip_seconds() -> None:
    from dslnas.spaces.run_config import DataConfig
    from dslnas.trainers.data import evaluation_clips, generate_demo_clips, train_eval_split

    clips = generate_demo_clips(8, 3.0, 16_000, seed=0)
    data = DataConfig(eval_fraction=0.25, eval_clip_seconds=1.5)
    held_out = train_eval_split(clips, data.eval_fraction, data.seed)[1]
    cut = evaluation_clips(clips, data, 16_000)
    assert [c.clip_id for c in cut] == [c.clip_id for c in held_out]
    assert all(c.num_samples == 24_000 for c in cut)
    assert torch.equal(cut[0].audio, held_out[0].audio[:24_000])
    whole = evaluation_clips(clips, data.model_copy(update={"eval_clip_seconds": None}), 16_000)
    assert all(c.num_samples == 48_000 for c in whole)
    assert evaluation_clips(clips, data.model_copy(update={"eval_fraction": 0.0}), 16_000) == []
    assert len(evaluation_clips(clips, data.model_copy(update={"eval_fraction": 0.0}), 16_000, True)) == 8


def _clip(clip_id: str, n: int, label: str = "speech", speaker: str | None = None) -> Clip:
    return Clip(clip_id, torch.full((n,), 0.1), label, speaker)


def test_short_clips_are_joined_in_order_within_their_group_and_leftovers_skipped() -> None:
    from dslnas.trainers.data.clips import join_short_clips

    clips = [_clip("a/1", 300), _clip("long", 1000), _clip("a/2", 400), _clip("b/1", 300, "silence"), _clip("a/3", 200)]
    out = join_short_clips(clips, 600)
    assert [c.clip_id for c in out.clips] == ["a/1 + a/2", "long"]  # the joined clip takes its first member's place
    assert out.clips[0].num_samples == 700 and out.joined == ("a/1", "a/2")
    assert set(out.skipped) == {"a/3", "b/1"}  # too few left in their group to reach the minimum
    assert "2 joined into 1 clips" in out.describe(1000) and "2 skipped" in out.describe(1000)


def test_a_speaker_groups_short_clips_across_folders_but_never_across_labels() -> None:
    from dslnas.trainers.data.clips import join_short_clips

    clips = [_clip("x/1", 300, speaker="s"), _clip("y/2", 300, speaker="s"), _clip("z/3", 300, "silence", "s")]
    out = join_short_clips(clips, 600)
    assert [c.clip_id for c in out.clips] == ["x/1 + y/2"] and out.skipped == ("z/3",)


def test_the_evaluation_set_cuts_each_clip_after_the_short_clip_rule() -> None:
    from dslnas.trainers.data.clips import evaluation_set

    clips = [_clip("a/1", 300), _clip("a/2", 400), _clip("long", 5000)]
    chosen = evaluation_set(clips, DataConfig(eval_fraction=0.0, eval_clip_seconds=1.0), 1000,
                            all_when_none_held_out=True, min_samples=600)
    assert [c.num_samples for c in chosen.clips] == [700, 1000] and all(c.in_memory for c in chosen.clips)
