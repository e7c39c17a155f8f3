"""``data.kind: synth``: a corpus spoken on this machine once, cached, split speaker-disjoint; ``data synth``'s
options (rooms, microphones, bands, levels, speaker variants, ambience scenes), reproducible from a seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dslnas.spaces.run_config import DataConfig
from dslnas.trainers.data import load_dataset, train_eval_split
from dslnas.trainers.data.audio_io import load_audio
from dslnas.trainers.data.manifest import Manifest


def test_a_synth_corpus_is_made_once_and_read_from_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    cfg = DataConfig(kind="synth", synth_minutes=0.3, seed=5, eval_fraction=0.34)
    clips = load_dataset(cfg, 16_000, 400)
    assert {c.label for c in clips} == {"speech", "silence"}
    (folder,) = tmp_path.glob("corpus-0.3min-seed5-*")
    made = (folder / "manifest.csv").stat().st_mtime_ns
    again = load_dataset(cfg, 16_000, 400)
    assert [c.clip_id for c in again] == [c.clip_id for c in clips] and (folder / "manifest.csv").stat().st_mtime_ns == made
    train, held_out = train_eval_split(clips, cfg.eval_fraction, cfg.seed)
    assert held_out and not {c.speaker for c in train} & {c.speaker for c in held_out}
    assert not list(tmp_path.glob("*.partial"))


def test_the_cache_name_changes_with_the_installed_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.trainers.data import datasets
    from dslnas.trainers.data.voices import VOICES, available_voices

    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    six, seven, none = (datasets.synth_cache_dir(2.0, 1, voices) for voices in (VOICES[:6], VOICES[:7], ()))
    assert len({six, seven, none}) == 3 and six.name.startswith("corpus-2min-seed1-")
    assert datasets.synth_cache_dir(2.0, 1, ()) == none and datasets.synth_cache_dir(3.0, 1, ()) != none
    assert datasets.synth_cache_dir(2.0, 1) == datasets.synth_cache_dir(2.0, 1, available_voices())


def test_a_synthesiser_that_cannot_list_its_voices_is_an_error_not_a_smaller_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslnas.spaces.errors import DataError
    from dslnas.trainers.data.voices import available_voices

    broken = tmp_path / "bin" / "espeak-ng"
    broken.parent.mkdir()
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(broken.parent))
    with pytest.raises(DataError, match="espeak-ng: could not list its voices"):
        available_voices()


# --- data synth's options: a recorded-sounding corpus, reproducible from a seed ---------------------------------

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed (.ci/system-deps.sh)")


def _synth(
    out: Path, seed: int = 3, voices: tuple[str, ...] = ("flite-slt",), minutes: float = 0.25, **options: object
) -> Manifest:
    from dslnas.trainers.data.speech_synth import synthesize_corpus
    from dslnas.trainers.data.synth_options import corpus_options

    return synthesize_corpus(out, minutes, seed, voices=list(voices), options=corpus_options(**options))


def _clips(manifest: Manifest, label: str) -> list[np.ndarray]:
    return [load_audio(manifest.root / e.path, 16_000).double().numpy() for e in manifest.entries if e.label == label]


def _share_above_hz(audio: np.ndarray, cutoff_hz: float) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    return float(power[np.fft.rfftfreq(audio.size, 1 / 16_000) > cutoff_hz].sum() / power.sum())


def _dbfs(audio: np.ndarray) -> float:
    return 20 * float(np.log10(np.sqrt(np.mean(audio**2))))


@needs_flite
def test_the_same_seed_and_options_give_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    opts = dict(rooms=True, microphones=True, bands="full,telephone,resampled", speaker_variants=2, scenes="all")
    first, again, other = (_synth(tmp_path / name, seed, **opts) for name, seed in (("a", 3), ("b", 3), ("c", 4)))
    wavs = [sorted(m.root.rglob("*.wav")) for m in (first, again, other)]
    assert [p.relative_to(first.root) for p in wavs[0]] == [p.relative_to(again.root) for p in wavs[1]]
    assert all(p.read_bytes() == q.read_bytes() for p, q in zip(wavs[0], wavs[1]))
    assert [p.read_bytes() for p in wavs[0]] != [p.read_bytes() for p in wavs[2]]


@needs_flite
def test_a_telephone_band_cuts_the_energy_above_4_khz(tmp_path: Path) -> None:
    full = _clips(_synth(tmp_path / "full", bands="full", floor_dbfs="none"), "speech")
    phone = _clips(_synth(tmp_path / "phone", bands="telephone", floor_dbfs="none"), "speech")
    assert max(_share_above_hz(x, 4000.0) for x in phone) < 0.05 * min(_share_above_hz(x, 4000.0) for x in full)


@needs_flite
@pytest.mark.parametrize("span", [(-45.0, -38.0), (-22.0, -15.0)])
def test_speech_lands_in_the_asked_level_range(tmp_path: Path, span: tuple[float, float]) -> None:
    speech = _clips(_synth(tmp_path / "c", level_dbfs=f"{span[0]},{span[1]}", floor_dbfs="none", rooms=True), "speech")
    assert speech and all(span[0] - 0.2 <= _dbfs(x) <= span[1] + 0.2 for x in speech)  # 16-bit rounding


@needs_flite
def test_speaker_variants_are_new_talkers_under_their_voices_speaker(tmp_path: Path) -> None:
    manifest = _synth(tmp_path / "c", minutes=0.6, speaker_variants=3, scenes="ambience")
    speech = [e for e in manifest.entries if e.label == "speech"]
    assert {e.speaker for e in speech} == {"slt"}
    assert {e.path.rsplit("-", 1)[-1] for e in speech} >= {"slt.wav", "v1.wav", "v2.wav"}
    assert {e.speaker for e in manifest.entries if e.label == "silence"} <= {
        "fan", "fridge", "traffic", "rain", "keyboard", "far-speech"}


def test_ambience_scenes_sit_at_room_levels_with_their_own_spectra() -> None:
    from dslnas.trainers.data.scenes_ambience import AMBIENCE_SCENES, render_any_scene

    talker = [np.random.default_rng(0).standard_normal(16_000)]
    rendered = {s: render_any_scene(s, np.random.default_rng(1), 5 * 16_000, 16_000, talker) for s in AMBIENCE_SCENES}
    assert all(-75.0 <= _dbfs(x) <= -30.0 for x in rendered.values())
    assert _share_above_hz(rendered["rain"], 1000.0) > 0.5 > _share_above_hz(rendered["traffic"], 1000.0)
    again = render_any_scene("keyboard", np.random.default_rng(1), 5 * 16_000, 16_000, talker)
    assert np.array_equal(again, rendered["keyboard"])


def test_bad_synth_options_are_one_line_errors_naming_the_option() -> None:
    from dslnas.spaces.errors import UserError
    from dslnas.trainers.data.synth_options import corpus_options

    for kwargs, match in ((dict(bands="radio"), "unknown band 'radio'"), (dict(level_dbfs="-10"), "--level-dbfs"),
                          (dict(level_dbfs="-10,-50"), "level_dbfs"), (dict(scenes="fan,zoo"), "unknown scene 'zoo'"),
                          (dict(speaker_variants=0), "speaker_variants")):
        with pytest.raises(UserError, match=match):
            corpus_options(**kwargs)


@needs_flite
def test_data_synth_takes_the_options_on_the_command_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dslnas.search.cli import app

    result = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "c"), "--minutes", "0.15", "--voices",
                                      "flite-slt", "--bands", "telephone", "--scenes", "fan", "--json"])
    assert result.exit_code == 0, result.output
    speech = sorted((tmp_path / "c" / "speech").rglob("*.wav"))
    assert speech and all(_share_above_hz(load_audio(p, 16_000).double().numpy(), 4000.0) < 1e-4 for p in speech)
    assert {p.parent.name for p in (tmp_path / "c" / "silence").rglob("*.wav")} == {"fan"}


def test_a_piper_voice_from_its_wheel_speaks_the_same_samples_for_the_same_seed(tmp_path: Path) -> None:
    from dslnas.trainers.data.synth_piper import available_piper_voices

    if not available_piper_voices():
        pytest.skip("piper-tts or its voice wheel is not installed (pip install 'dslnas[natural]')")
    first, again = (_synth(tmp_path / name, voices=("piper-joe",), minutes=0.1, scenes="fan") for name in "ab")
    speech = [e for e in first.entries if e.label == "speech"]
    assert speech and {e.speaker for e in speech} == {"piper-joe"}
    assert all((first.root / e.path).read_bytes() == (again.root / e.path).read_bytes() for e in first.entries)


def test_a_simulated_room_reverberates_within_the_drawn_rt60_range_and_is_seeded() -> None:
    from pyroomacoustics.experimental import measure_rt60

    from dslnas.trainers.data.synth_recording import RT60_S, room_impulse_response

    rirs = [room_impulse_response(np.random.default_rng(seed), 16_000) for seed in range(4)]
    rt60s = [measure_rt60(rir, 16_000, decay_db=30) for rir in rirs]
    assert all(0.5 * RT60_S[0] <= rt60 <= 1.5 * RT60_S[1] for rt60 in rt60s), rt60s
    assert len({round(rt60, 3) for rt60 in rt60s}) == len(rt60s)
    assert np.array_equal(rirs[1], room_impulse_response(np.random.default_rng(1), 16_000))
    assert all(int(np.argmax(np.abs(rir))) < 0.02 * 16_000 for rir in rirs)  # the direct sound comes first


def test_an_unknown_voice_is_an_error_that_lists_the_piper_voices_too(tmp_path: Path) -> None:
    from dslnas.spaces.errors import UserError

    with pytest.raises(UserError, match="unknown voice 'piper-nosuch'.*piper-joe"):
        _synth(tmp_path / "c", voices=("piper-nosuch",))
    assert not (tmp_path / "c").exists()


@needs_flite
def test_a_run_config_synth_corpus_takes_the_natural_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.spaces.run_config import RunConfig
    from dslnas.spaces.yaml_io import load_model

    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "run.yaml").write_text(
        "train:\n  data:\n    kind: synth\n    synth_minutes: 0.15\n    seed: 3\n    synth:\n"
        "      voices: [flite-slt]\n      bands: [telephone]\n      level_dbfs: [-40, -35]\n"
        "      floor_dbfs: none\n      scenes: [fan]\n")
    cfg = load_model(RunConfig, tmp_path / "run.yaml").train.data
    clips = load_dataset(cfg, 16_000, 400)
    (folder,) = (tmp_path / "cache").glob("corpus-0.15min-seed3-*-n*")  # a name of its own, beside the default's
    speech = [c.audio.double().numpy() for c in clips if c.label == "speech"]
    assert speech and all(-40.2 <= _dbfs(x) <= -34.8 and _share_above_hz(x, 4000.0) < 1e-4 for x in speech)
    assert {c.speaker for c in clips} == {"slt", "fan"} and (folder / "manifest.csv").is_file()


@pytest.mark.parametrize(("synth", "match"), [
    ("{bands: [radio]}", r"data\.synth: unknown band 'radio'"),
    ("{scenes: [zoo]}", r"data\.synth: unknown scene 'zoo'"),
    ("{voices: [nosuch]}", r"data\.synth\.voices: unknown voice 'nosuch'"),
])
def test_a_bad_data_synth_name_is_a_one_line_error_before_anything_is_spoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, synth: str, match: str,
) -> None:
    import yaml

    from dslnas.spaces.errors import ConfigError

    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    cfg = DataConfig(kind="synth", synth=yaml.safe_load(synth))
    with pytest.raises(ConfigError, match=match) as caught:
        load_dataset(cfg, 16_000, 400)
    assert "\n" not in str(caught.value) and not list(tmp_path.iterdir())


@pytest.mark.parametrize(("data", "match"), [
    ("{kind: synth, synth: {level_dbfs: [-10, -40]}}", "level_dbfs"),
    ("{kind: synth, synth: {speaker_variants: 0}}", "speaker_variants"),
    ("{kind: synth, synth: {colour: red}}", "colour"),
    ("{kind: demo, synth: {rooms: true}}", "kind 'synth' only"),
])
def test_a_bad_data_synth_value_is_a_one_line_error_on_load(tmp_path: Path, data: str, match: str) -> None:
    from dslnas.spaces.errors import UserError
    from dslnas.spaces.run_config import RunConfig
    from dslnas.spaces.yaml_io import load_model

    (tmp_path / "run.yaml").write_text(f"train:\n  data: {data}\n")
    with pytest.raises(UserError, match=match) as caught:
        load_model(RunConfig, tmp_path / "run.yaml")
    assert "\n" not in str(caught.value)


def test_the_default_synth_options_keep_the_default_corpus_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.spaces.synth_config import SynthOptions
    from dslnas.trainers.data.datasets import synth_cache_dir

    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    default = synth_cache_dir(2.0, 1, ())
    assert synth_cache_dir(2.0, 1, (), SynthOptions()) == default
    rooms, phone = (synth_cache_dir(2.0, 1, (), SynthOptions(**kw)) for kw in ({"rooms": True}, {"bands": ("telephone",)}))
    assert len({default, rooms, phone}) == 3 and rooms.name.startswith(default.name + "-n")
