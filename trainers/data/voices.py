"""The Debian speech synthesisers as voices: which are installed, and speaking a text into a WAV file.

Three engines, each run as an argument list (never through a shell), writing a temporary WAV:

* ``flite`` (package ``flite``): voices ``kal16``, ``awb``, ``rms``, ``slt``.
* ``festival`` via ``text2wave`` (packages ``festival``, ``festvox-kallpc16k``, ``festvox-kdlpc16k``,
  ``festvox-us-slt-hts``): ``kal_diphone``, ``ked_diphone``, ``cmu_us_slt_arctic_hts``.
* ``espeak-ng`` (package ``espeak-ng``): English (American, British and Scottish accents) with 35 of its
  variants, each a formant talker of its own (``f1``-``f5``, ``m1``-``m8``, ``Annie``, ``linda``, ...).
  A codec trained on eight talkers did not carry to the two held out (ViSQOL 3.2 against 2.0), so the
  corpus speaks with every variant that sounds like a person (not the robots, whispers or croaks).

A voice's ``speaker`` is the person (or formant model) behind it: flite's ``kal16`` and festival's
``kal_diphone`` are both built from the CMU Kal recordings, flite's ``slt`` and festival's HTS voice from
the CMU ARCTIC "slt" recordings, so each pair shares one speaker id and a speaker-disjoint split keeps them
on one side. Rate is varied on every voice; pitch where the engine lets it be set (``f0_hz`` not ``None``).
"""

from __future__ import annotations

import enum
import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dslnas.spaces.errors import DataError, UserError, unknown_name

SYNTH_TIMEOUT_S = 60.0


class Engine(str, enum.Enum):
    """A speech synthesiser and the executable that runs it."""

    FLITE = "flite"
    FESTIVAL = "text2wave"
    ESPEAK = "espeak-ng"


class Sex(str, enum.Enum):
    FEMALE = "female"
    MALE = "male"


@dataclass(frozen=True)
class Voice:
    """One synthesiser voice.

    Attributes:
        voice_id: unique name, ``<engine>-<voice>`` (e.g. ``flite-slt``).
        speaker: the talker behind the voice (shared by voices built from the same recordings).
        sex: the talker's sex.
        engine: which synthesiser speaks it.
        name: the engine's own voice name (``slt``, ``voice_kal_diphone``, ``en+f3``).
        f0_hz: typical pitch in Hz, varied per clip; ``None`` where the engine cannot set the pitch.
    """

    voice_id: str
    speaker: str
    sex: Sex
    engine: Engine
    name: str
    f0_hz: float | None


F, M = Sex.FEMALE, Sex.MALE
VOICES: tuple[Voice, ...] = (
    Voice("flite-kal16", "kal", M, Engine.FLITE, "kal16", 105.0),
    Voice("flite-awb", "awb", M, Engine.FLITE, "awb", 115.0),
    Voice("flite-rms", "rms", M, Engine.FLITE, "rms", None),  # flite ignores int_f0_target_mean for rms
    Voice("flite-slt", "slt", F, Engine.FLITE, "slt", 175.0),
    Voice("festival-kal", "kal", M, Engine.FESTIVAL, "voice_kal_diphone", 105.0),
    Voice("festival-ked", "ked", M, Engine.FESTIVAL, "voice_ked_diphone", 110.0),
    Voice("festival-slt-hts", "slt", F, Engine.FESTIVAL, "voice_cmu_us_slt_arctic_hts", None),
    *(
        Voice(f"espeak-{variant}", f"espeak-{variant}", sex, Engine.ESPEAK, f"{language}+{variant}", 50.0)
        for variant, sex, language in (
            ("f1", F, "en-us"), ("f2", F, "en-us"), ("f3", F, "en"), ("f4", F, "en"), ("f5", F, "en-us"),
            ("Alicia", F, "en-us"), ("Andrea", F, "en"), ("Annie", F, "en-us"), ("anika", F, "en"),
            ("aunty", F, "en-gb-scotland"), ("belinda", F, "en"), ("grandma", F, "en-us"), ("linda", F, "en-us"),
            ("steph", F, "en"), ("steph2", F, "en-us"), ("shelby", F, "en-us"),
            ("m1", M, "en-us"), ("m2", M, "en"), ("m3", M, "en"), ("m4", M, "en-us"), ("m5", M, "en-gb-scotland"),
            ("m6", M, "en-us"), ("m7", M, "en"), ("m8", M, "en"), ("Andy", M, "en-us"), ("Lee", M, "en"),
            ("adam", M, "en-us"), ("david", M, "en-us"), ("ed", M, "en"), ("john", M, "en-us"),
            ("norbert", M, "en"), ("paul", M, "en-us"), ("quincy", M, "en"), ("robert", M, "en-us"),
            ("travis", M, "en-gb-scotland"),
        )
    ),
)
"""Every voice dslnas knows; espeak's ``f0_hz`` is its pitch setting (0-99, default 50), not Hz."""

FIRST_VOICES: tuple[str, ...] = (
    "espeak-f2", "espeak-f3", "espeak-f4", "espeak-m3", "espeak-m7", "festival-kal", "festival-ked",
    "festival-slt-hts", "flite-awb", "flite-kal16", "flite-rms", "flite-slt",
)
"""The 12 voices (10 speakers) of the first voice table, which stages 1-7 of the shipped base trained on:
``synthesize_corpus(..., voices=FIRST_VOICES)`` speaks the corpus they heard."""


@dataclass(frozen=True)
class Delivery:
    """How one clip is spoken: ``rate`` > 1 is faster, ``pitch`` > 1 is higher (factors on the voice's own)."""

    rate: float
    pitch: float


def select_voices(voice_ids: Sequence[str]) -> tuple[Voice, ...]:
    """The installed voices named by ``voice_ids``, sorted by id.

    Raises:
        UserError: an id is not in :data:`VOICES` (the message lists them), or its synthesiser or voice is not
            installed here.
    """
    known = {voice.voice_id: voice for voice in VOICES}
    installed = {voice.voice_id for voice in available_voices()}
    for voice_id in voice_ids:
        if voice_id not in known:
            raise unknown_name("voice", voice_id, sorted(known))
        if voice_id not in installed:
            raise UserError(f"voice {voice_id}: {known[voice_id].engine.value} or this voice is not installed here "
                            "(.ci/system-deps.sh installs them)")
    return tuple(sorted({known[voice_id] for voice_id in voice_ids}, key=lambda voice: voice.voice_id))


def available_voices() -> tuple[Voice, ...]:
    """The voices of :data:`VOICES` whose synthesiser is installed and lists the voice, sorted by id.

    Asked once per ``PATH``: a cached corpus is named after this answer, so it must not change within a run.

    Raises:
        DataError: an installed synthesiser could not be asked for its voices (it failed or timed out).
    """
    return _available_voices(os.environ.get("PATH", ""))


@functools.lru_cache(maxsize=8)
def _available_voices(search_path: str) -> tuple[Voice, ...]:
    found: list[Voice] = []
    for engine in Engine:
        executable = shutil.which(engine.value, path=search_path)
        if executable is None:
            continue
        names = _installed_names(engine, executable, search_path)
        found.extend(voice for voice in VOICES if voice.engine is engine and _name_key(voice) in names)
    return tuple(sorted(found, key=lambda voice: voice.voice_id))


def _name_key(voice: Voice) -> str:
    """The name an engine's voice listing uses for ``voice``."""
    if voice.engine is Engine.FESTIVAL:
        return voice.name.removeprefix("voice_")
    if voice.engine is Engine.ESPEAK:
        return voice.name.split("+")[1]
    return voice.name


def _installed_names(engine: Engine, executable: str, search_path: str) -> frozenset[str]:
    """Voice names the installed engine lists (empty for festival without its ``festival`` binary)."""
    if engine is Engine.FLITE:
        argv = [executable, "-lv"]
    elif engine is Engine.FESTIVAL:
        festival = shutil.which("festival", path=search_path)
        if festival is None:
            return frozenset()
        argv = [festival, "-b", "(print (voice.list))"]
    else:
        argv = [executable, "--voices=variant"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=SYNTH_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        # Dropping the engine's voices here would silently change which corpus a search trains on.
        raise DataError(f"{executable}: could not list its voices ({type(err).__name__}: {err})") from None
    text = out.stdout.replace("(", " ").replace(")", " ").replace(":", " ")
    if engine is Engine.ESPEAK:
        return frozenset(tok.split("/")[-1] for tok in text.split() if tok.startswith("!v/"))
    return frozenset(text.split())


def synthesize(voice: Voice, text: str, delivery: Delivery, wav_path: Path) -> Path:
    """Speak ``text`` with ``voice`` into ``wav_path`` (the engine's own rate; 16-bit PCM).

    Raises:
        DataError: the engine is missing, fails, times out, or writes no audio (the message names the voice).
    """
    executable = shutil.which(voice.engine.value)
    if executable is None:
        raise DataError(f"voice {voice.voice_id}: {voice.engine.value} is not installed")
    text_path = wav_path.with_suffix(".txt")
    text_path.write_text(text + "\n", encoding="utf-8")
    argv = [executable, *_engine_args(voice, delivery, text_path, wav_path)]
    return run_to_wav(argv, f"voice {voice.voice_id}: {voice.engine.value}", wav_path)


def run_to_wav(argv: list[str], who: str, wav_path: Path, text: str | None = None,
               timeout_s: float = SYNTH_TIMEOUT_S) -> Path:
    """Run a synthesiser's argument list (``text`` on its standard input) that writes ``wav_path``.

    Raises:
        DataError: it fails, runs past ``timeout_s`` or writes no audio (the message starts with ``who``).
    """
    try:
        done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise DataError(f"{who} ran past {timeout_s:g} s") from None
    if done.returncode != 0 or not wav_path.is_file() or wav_path.stat().st_size <= 44:
        reason = " ".join((done.stderr or done.stdout).split())[-200:] or f"exit status {done.returncode}"
        raise DataError(f"{who} wrote no audio ({reason})")
    return wav_path


def _engine_args(voice: Voice, delivery: Delivery, text_path: Path, wav_path: Path) -> list[str]:
    """The command-line arguments (after the executable) that speak ``text_path`` into ``wav_path``."""
    if voice.engine is Engine.FLITE:
        args = ["-voice", voice.name, "--setf", f"duration_stretch={1.0 / delivery.rate:.3f}"]
        if voice.f0_hz is not None:
            args += ["--setf", f"int_f0_target_mean={voice.f0_hz * delivery.pitch:.1f}"]
        return [*args, "-f", str(text_path), "-o", str(wav_path)]
    if voice.engine is Engine.ESPEAK:
        speed_wpm = round(175 * delivery.rate)
        pitch = 50 if voice.f0_hz is None else min(max(round(voice.f0_hz * delivery.pitch), 0), 99)
        return ["-v", voice.name, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(wav_path), "-f", str(text_path)]
    return ["-o", str(wav_path), *_festival_evals(voice, delivery), str(text_path)]


def _festival_evals(voice: Voice, delivery: Delivery) -> list[str]:
    """``-eval`` arguments: the voice, then its rate (and pitch, for the diphone voices)."""
    evals = [f"({voice.name})"]
    if voice.f0_hz is None:  # the HTS voice: hts_engine's own speed option
        params = voice.name.removeprefix("voice_") + "::hts_engine_params"
        evals.append(f'(set! hts_engine_params (append {params} (list (list "-r" {delivery.rate:.3f}))))')
    else:
        f0_hz = voice.f0_hz * delivery.pitch
        evals.append(f"(Parameter.set 'Duration_Stretch {1.0 / delivery.rate:.3f})")
        evals.append(
            f"(set! int_lr_params '((target_f0_mean {f0_hz:.1f}) (target_f0_std {0.15 * f0_hz:.1f}) "
            "(model_f0_mean 170) (model_f0_std 34)))"
        )
    return [arg for expr in evals for arg in ("-eval", expr)]
