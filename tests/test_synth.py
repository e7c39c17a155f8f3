"""The synthesised speech / silence corpus: voices, sentences, scenes, the manifest, the fallback, the split.

Needs the Debian synthesisers (``.ci/system-deps.sh`` installs them); tests that need them are skipped
with the reason printed where none is installed. Corpora here are a few seconds long.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile

from dslnas.spaces.errors import DataError, UserError
from dslnas.trainers.data import Clip, Manifest, ManifestEntry, load_audio, split_manifest, train_eval_split
from dslnas.trainers.data.scenes import SCENES, SPEECH_REFERENCE_DBFS, render_scene
from dslnas.trainers.data.speech_synth import SynthFallbackWarning, synthesize_corpus
from dslnas.trainers.data.voices import VOICES, Delivery, Engine, Sex, available_voices, synthesize
from dslnas.trainers.data.words import compose_sentence, compose_text, vocabulary

SR = 16_000
INSTALLED = available_voices()
needs_voices = pytest.mark.skipif(not INSTALLED, reason="no speech synthesiser installed (.ci/system-deps.sh)")


def rms_dbfs(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x))))


def median_f0_hz(x: np.ndarray, rate_hz: int) -> float:
    """Median autocorrelation pitch over loud 40 ms frames (60-400 Hz)."""
    frame, found = int(0.04 * rate_hz), []
    loud = 0.3 * float(np.max(np.abs(x)))
    for start in range(0, x.size - frame, frame):
        seg = x[start : start + frame] - np.mean(x[start : start + frame])
        if np.max(np.abs(seg)) < loud:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1 :]
        lo, hi = rate_hz // 400, rate_hz // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            found.append(rate_hz / lag)
    return float(np.median(found))


def test_sentences_are_seeded_and_drawn_from_a_few_hundred_words() -> None:
    assert len(vocabulary()) >= 300
    first = compose_text(np.random.default_rng(5), 3)
    assert first == compose_text(np.random.default_rng(5), 3)
    assert first != compose_text(np.random.default_rng(6), 3)
    sentences = {compose_sentence(np.random.default_rng(k)) for k in range(50)}
    assert len(sentences) > 40 and any(s.endswith("?") for s in sentences)
    assert all(w.strip(".?").lower() in {v.lower() for v in vocabulary()} for s in sentences for w in s.split())


def test_voice_table_covers_both_sexes_and_shares_speakers_across_engines() -> None:
    assert len({v.voice_id for v in VOICES}) == len(VOICES) >= 6
    assert {v.sex for v in VOICES} == {Sex.FEMALE, Sex.MALE}
    assert {v.engine for v in VOICES} == set(Engine)
    by_speaker = {v.speaker: {w.engine for w in VOICES if w.speaker == v.speaker} for v in VOICES}
    assert by_speaker["slt"] == {Engine.FLITE, Engine.FESTIVAL} and by_speaker["kal"] == {Engine.FLITE, Engine.FESTIVAL}


@needs_voices
def test_installed_voices_number_at_least_six_of_both_sexes() -> None:
    assert len(INSTALLED) >= 6
    assert {v.sex for v in INSTALLED} == {Sex.FEMALE, Sex.MALE}


@needs_voices
@pytest.mark.parametrize("engine", list(Engine))
def test_each_engine_speaks_with_rate_and_pitch(engine: Engine, tmp_path: Path) -> None:
    voice = next((v for v in INSTALLED if v.engine is engine and v.f0_hz is not None), None)
    if voice is None:
        pytest.skip(f"no {engine.value} voice installed")
    text = "The quiet river carried an old wooden boat past the village."
    slow = load_audio(synthesize(voice, text, Delivery(0.85, 0.85), tmp_path / "slow.wav"), SR).numpy()
    fast = load_audio(synthesize(voice, text, Delivery(1.2, 1.2), tmp_path / "fast.wav"), SR).numpy()
    assert 1.5 < fast.size / SR < slow.size / SR < 10.0
    assert median_f0_hz(fast, SR) > 1.15 * median_f0_hz(slow, SR)


def test_a_missing_engine_is_a_data_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError, match="voice flite-slt: flite is not installed"):
        synthesize(VOICES[3], "hello", Delivery(1.0, 1.0), tmp_path / "x.wav")


@pytest.mark.parametrize("scene_id", sorted(SCENES))
def test_scenes_are_quiet_finite_and_seeded(scene_id: str) -> None:
    talkers = [np.sin(np.arange(SR) * 0.05) * (np.arange(SR) % 4000 < 2500)] * 2
    audio = render_scene(scene_id, np.random.default_rng(1), 3 * SR, SR, talkers)
    again = render_scene(scene_id, np.random.default_rng(1), 3 * SR, SR, talkers)
    assert audio.shape == (3 * SR,) and np.isfinite(audio).all() and np.array_equal(audio, again)
    assert -80.0 < rms_dbfs(audio) < -40.0
    if scene_id == "far-babble":
        assert rms_dbfs(audio) < SPEECH_REFERENCE_DBFS - 24.0
        with pytest.raises(ValueError, match="talker"):
            render_scene(scene_id, np.random.default_rng(1), SR, SR, [])


def test_mains_hum_scene_sits_on_50_or_60_hz() -> None:
    audio = render_scene("mains-hum", np.random.default_rng(0), 4 * SR, SR)
    spectrum = np.abs(np.fft.rfft(audio))
    freqs_hz = np.fft.rfftfreq(audio.size, 1 / SR)
    strongest_hz = freqs_hz[np.argmax(spectrum[freqs_hz < 500])]
    assert min(abs(strongest_hz % 50), abs(strongest_hz % 60), 50 - strongest_hz % 50, 60 - strongest_hz % 60) < 1


def _read_manifest_csv(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


@needs_voices
def test_corpus_writes_wavs_and_a_manifest_deterministically(tmp_path: Path) -> None:
    progress: list[tuple[float, float]] = []
    manifest = synthesize_corpus(tmp_path / "a", 0.25, seed=3, on_progress=lambda d, t: progress.append((d, t)))
    rows = _read_manifest_csv(tmp_path / "a")
    assert list(rows[0]) == ["path", "label", "speaker", "seconds"]
    assert [r["path"] for r in rows] == [e.path for e in manifest.entries] and manifest.notes == ()
    assert {r["label"] for r in rows} == {"speech", "silence"}
    assert all(r["speaker"] for r in rows)
    for row in rows:
        info = soundfile.info(str(tmp_path / "a" / row["path"]))
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        assert info.duration == pytest.approx(float(row["seconds"]), abs=1e-3)
        level = rms_dbfs(soundfile.read(str(tmp_path / "a" / row["path"]))[0])
        assert (-25.5 < level < -16.5) if row["label"] == "speech" else (-80.0 < level < -40.0)
    totals = manifest.seconds_by_label()
    assert totals["speech"] >= 7.5 and totals["silence"] >= 7.5
    assert progress[-1][0] == progress[-1][1] == pytest.approx(15.0) and len(progress) == len(rows)
    again = synthesize_corpus(tmp_path / "b", 0.25, seed=3)
    assert [e.path for e in again.entries] == [e.path for e in manifest.entries]
    assert all((tmp_path / "a" / e.path).read_bytes() == (tmp_path / "b" / e.path).read_bytes() for e in again.entries)
    other = synthesize_corpus(tmp_path / "c", 0.25, seed=4)
    assert [e.path for e in other.entries] != [e.path for e in manifest.entries]


def test_corpus_refuses_a_used_folder_and_a_bad_length(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x.txt").write_text("x")
    with pytest.raises(UserError, match="not an empty folder"):
        synthesize_corpus(tmp_path / "used", 0.1, seed=0)
    with pytest.raises(UserError, match="minutes > 0"):
        synthesize_corpus(tmp_path / "new", 0.0, seed=0)


@needs_voices
def test_a_corpus_speaks_with_the_voices_named_and_refuses_unknown_ones(tmp_path: Path) -> None:
    two = [INSTALLED[0].voice_id, INSTALLED[-1].voice_id]
    manifest = synthesize_corpus(tmp_path / "two", 0.3, seed=2, voices=two)
    spoken = {Path(e.path).stem.split("-", 1)[1] for e in manifest.entries if e.label == "speech"}
    assert spoken == set(two)
    with pytest.raises(UserError, match="unknown voice 'espeak-nosuch'; valid: .*flite-slt"):
        synthesize_corpus(tmp_path / "bad", 0.1, seed=0, voices=["espeak-nosuch"])
    assert not (tmp_path / "bad").exists()


def test_the_first_voice_table_is_still_known() -> None:
    from dslnas.trainers.data.voices import FIRST_VOICES

    assert set(FIRST_VOICES) < {v.voice_id for v in VOICES} and len(FIRST_VOICES) == 12
    assert len({v.speaker for v in VOICES if v.voice_id in FIRST_VOICES}) == 10


def test_without_synthesisers_the_corpus_falls_back_loudly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries"))
    assert available_voices() == ()
    with pytest.warns(SynthFallbackWarning, match="no speech synthesiser found"):
        manifest = synthesize_corpus(tmp_path / "out", 0.2, seed=1)
    assert manifest.notes and "formant synthesis" in manifest.notes[0]
    assert set(manifest.speakers("speech")) <= {f"formant-{k}" for k in range(6)}
    assert manifest.speakers("speech") and manifest.speakers("silence")
    for entry in manifest.entries:
        assert np.isfinite(soundfile.read(str(manifest.resolve(entry)))[0]).all()


def _entries(spec: dict[str, dict[str, int]]) -> Manifest:
    """A manifest (no files) with ``spec[label][speaker]`` entries each."""
    entries = [ManifestEntry(f"{label}/{speaker}/{k}.wav", label, speaker, 1.0)
               for label, speakers in spec.items() for speaker, n in speakers.items() for k in range(n)]
    return Manifest(Path("/nowhere"), tuple(entries))


def test_manifest_split_is_speaker_disjoint_stratified_and_seeded() -> None:
    manifest = _entries({"speech": {f"v{k}": 3 for k in range(8)}, "silence": {f"s{k}": 2 for k in range(4)}})
    train, held_out = split_manifest(manifest, 0.25, seed=0)
    assert len(train.entries) + len(held_out.entries) == len(manifest.entries)
    assert set(train.speakers()).isdisjoint(held_out.speakers())
    assert (len(held_out.speakers("speech")), len(held_out.speakers("silence"))) == (2, 1)
    again = split_manifest(manifest, 0.25, seed=0)[1]
    assert again.entries == held_out.entries
    picks = {split_manifest(manifest, 0.25, seed)[1].speakers() for seed in range(6)}
    assert len(picks) > 1
    with pytest.raises(ValueError):
        split_manifest(manifest, 1.0, seed=0)


def test_a_speaker_under_two_labels_stays_on_one_side() -> None:
    manifest = _entries({"speech": {"a": 2, "b": 2, "c": 2, "d": 2}, "laughter": {"a": 1, "b": 1, "c": 1, "d": 1}})
    for seed in range(10):
        train, held_out = split_manifest(manifest, 0.5, seed)
        assert set(train.speakers()).isdisjoint(held_out.speakers())
        assert held_out.speakers("speech") and held_out.speakers("laughter")


def test_clip_split_holds_whole_speakers_out() -> None:
    import torch

    clips = [Clip(f"c{i}", torch.zeros(10), "speech", f"spk{i % 5}") for i in range(20)]
    train, held_out = train_eval_split(clips, 0.4, seed=2)
    assert {c.speaker for c in train}.isdisjoint(c.speaker for c in held_out)
    assert len({c.speaker for c in held_out}) == 2 and len(held_out) == 8
