"""The ViSQOL wrapper: sane scores, resampling, the unscorable-pair rule and the library's edges.

All audio is generated; scorers are shared per module because creating the API loads a TFLite model.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dslnas.spaces.errors import DataError
from dslnas.trainers.data import Clip, generate_demo_clips, save_audio
from dslnas.trainers.data.audio_io import load_audio
from dslnas.trainers.data.scenes import room_tone
from dslnas.trainers.visqol_score import (
    MOS_CEILING,
    MOS_FLOOR,
    QUIET_AUDIO_DBFS,
    QUIET_SPEECH_DBFS,
    LevelRule,
    ScoringCounts,
    SpeechMapping,
    VisqolMode,
    VisqolScore,
    VisqolScorer,
    loudest_frame_dbfs,
    score_files,
)

SR = 16_000


@pytest.fixture(scope="module")
def scorer() -> VisqolScorer:
    return VisqolScorer(VisqolMode.SPEECH)


@pytest.fixture(scope="module")
def demo() -> list[Clip]:
    return generate_demo_clips(2, 2.0, SR, seed=0)


def with_noise(audio: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """``audio`` plus white noise at ``snr_db`` below its mean power."""
    noise = torch.randn(audio.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    power = audio.double().pow(2).mean()
    return (audio.double() + noise * torch.sqrt(power / noise.pow(2).mean() / 10 ** (snr_db / 10))).float()


def scores_with_noise(scorer: VisqolScorer, clip: Clip, snrs_db: tuple[float, ...]) -> list[float]:
    """[score against itself] + [score against clip + white noise at each SNR]."""
    clean = scorer.score(clip.audio, clip.audio, SR)
    return [clean] + [scorer.score(clip.audio, with_noise(clip.audio, snr), SR) for snr in snrs_db]


def test_speech_self_score_is_high_and_falls_with_noise(scorer: VisqolScorer, demo: list[Clip]) -> None:
    """Speech-mode ViSQOL is harsh on white noise over demo speech (pauses and the 4-8 kHz bands are nearly
    empty): it reaches the floor near 20 dB SNR, so the ladder here is 40/30/20 dB."""
    scores = scores_with_noise(scorer, demo[0], (40.0, 30.0, 20.0))
    assert scores[0] > 4.0
    assert all(earlier > later for earlier, later in zip(scores, scores[1:])), scores
    assert all(MOS_FLOOR <= s <= 5.0 for s in scores)


def test_silence_self_score_is_high_and_falls_with_noise(scorer: VisqolScorer, demo: list[Clip]) -> None:
    """Ambient noise at -50..-35 dBFS sits above ViSQOL's level floor, so it is scored, not waved through."""
    assert demo[1].label == "silence"
    scores = scores_with_noise(scorer, demo[1], (10.0, 5.0, 0.0))
    assert scores[0] > 4.0
    assert all(earlier > later for earlier, later in zip(scores, scores[1:])), scores


def test_inputs_resampled_to_the_mode_rate(scorer: VisqolScorer, demo: list[Clip]) -> None:
    import torchaudio.functional as audio_fn

    speech_44k = audio_fn.resample(demo[0].audio, SR, 44_100)
    at_16k = scorer.score(demo[0].audio, demo[0].audio, SR)
    assert scorer.score(speech_44k, speech_44k, 44_100) == pytest.approx(at_16k, abs=0.15)


def test_numpy_and_torch_give_the_same_score(scorer: VisqolScorer, demo: list[Clip]) -> None:
    ref, deg = demo[0].audio, with_noise(demo[0].audio, 20.0)
    as_numpy = scorer.score(ref.numpy(), deg.double().numpy(), SR)
    assert as_numpy == scorer.score(ref.unsqueeze(0), deg[None, None], SR)  # [1, T] and [1, 1, T] work too


def test_lengths_that_differ_are_scored_as_visqol_does(scorer: VisqolScorer, demo: list[Clip]) -> None:
    """Untrimmed, as Google's ViSQOL takes them: the library aligns a delayed copy and matches patches."""
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode="speech", use_lattice_model=True)
    ref = demo[0].audio
    delayed = torch.cat([torch.zeros(320), ref])  # 20 ms of codec delay
    shorter = ref[:-480]  # 30 ms short
    same = scorer.score(ref, ref, SR)
    for deg in (delayed, shorter):
        expected = api.measure_from_arrays(ref.double().numpy(), deg.double().numpy(), SR).moslqo
        assert scorer.score(ref, deg, SR) == pytest.approx(expected, abs=1e-9)
        assert scorer.score(ref, deg, SR) == pytest.approx(same, abs=0.1)
    assert scorer.score(ref, delayed, SR) == pytest.approx(same, abs=1e-6)  # the global alignment undoes it
    with pytest.raises(DataError, match=r"reference is 2\.00 s but degraded is 0\.90 s \(more than 1 s apart\)"):
        scorer.score(ref, ref[: int(0.9 * SR)], SR)


def test_minimum_length_matches_the_library(scorer: VisqolScorer, demo: list[Clip]) -> None:
    """Speech mode needs 10,240 samples at 16 kHz (0.64 s): one sample less is rejected with a clear line."""
    assert VisqolMode.SPEECH.min_samples == 10_240 and VisqolMode.AUDIO.min_samples == 46_080
    shortest = demo[0].audio[: VisqolMode.SPEECH.min_samples]
    assert math.isfinite(scorer.score(shortest, shortest, SR))
    with pytest.raises(DataError, match=r"speech mode needs at least 0\.64 s of audio, got 0\.64 s"):
        scorer.score(shortest[:-1], shortest[:-1], SR)
    with pytest.raises(DataError, match=r"needs at least 0\.64 s of audio, got 0\.50 s"):
        scorer.score(shortest[:8000], shortest[:8000], SR)


def test_library_itself_fails_below_the_minimum() -> None:
    """Guards the constant above: visqol-python raises a bare IndexError on 10,239 samples."""
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode="speech", use_lattice_model=True)
    audio = generate_demo_clips(1, 1.0, SR, seed=0)[0].audio.double().numpy()
    assert math.isfinite(api.measure_from_arrays(audio[:10_240], audio[:10_240], SR).moslqo)
    with pytest.raises(IndexError):
        api.measure_from_arrays(audio[:10_239], audio[:10_239], SR)


def test_digital_silence_reference_never_raises(demo: list[Clip]) -> None:
    scorer = VisqolScorer()
    zeros = torch.zeros(2 * SR)
    assert scorer.score(zeros, zeros, SR) == MOS_CEILING
    assert scorer.score(zeros, torch.full((2 * SR,), 2.0**-18), SR) == MOS_CEILING  # rounds to 0 in 16 bits
    detail = scorer.score_detail(zeros, demo[1].audio, SR)
    assert detail == VisqolScore(MOS_FLOOR, LevelRule.DIGITAL_SILENCE)
    assert scorer.counts == ScoringCounts(references=1, levelled=0, digital_silence=1)
    silent_deg = scorer.score_detail(demo[0].audio, zeros, SR)  # the library would return NaN
    assert silent_deg == VisqolScore(MOS_FLOOR, LevelRule.DIGITAL_SILENCE) and silent_deg.rule_applied
    assert scorer.counts.rule_applied == 2
    with pytest.raises(DataError, match="digital silence"):
        VisqolScorer(quiet_rule=False).score(zeros, zeros, SR)


def room_tone_at(rms_dbfs: float, seconds: float = 2.0, seed: int = 3) -> torch.Tensor:
    audio = room_tone(np.random.default_rng(seed), round(seconds * SR), SR)
    return torch.from_numpy(audio * 10 ** (rms_dbfs / 20)).float()


def lowpassed(audio: torch.Tensor, cutoff_hz: float) -> torch.Tensor:
    from scipy import signal

    sos = signal.butter(4, cutoff_hz, fs=SR, output="sos")
    return torch.from_numpy(signal.sosfilt(sos, audio.double().numpy())).float()


def test_quiet_room_tone_above_the_measured_level_is_scored_as_given() -> None:
    """Room tone at -72 dBFS (the corpus' silence scenes sit at -75..-55) is ordinary material: ViSQOL's own
    score, level dependence included (the old rule raised it to -26 dBFS first)."""
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode="speech", use_lattice_model=True)
    scorer = VisqolScorer()
    quiet = room_tone_at(-72.0)
    damaged = lowpassed(quiet, 4000.0)
    detail = scorer.score_detail(quiet, damaged, SR)
    assert detail.rule is LevelRule.AS_GIVEN and not detail.rule_applied and detail.gain_db == 0.0
    assert detail.moslqo == api.measure_from_arrays(quiet.double().numpy(), damaged.double().numpy(), SR).moslqo
    assert scorer.counts == ScoringCounts(references=1, levelled=0, digital_silence=0)


def test_a_reference_below_the_measured_level_is_raised_to_minus_26_dbfs() -> None:
    """Below the measured level ViSQOL gives a low-passed copy what it gives a perfect one; the rule raises
    both signals by one gain (reference RMS to -26 dBFS), where the damage shows."""
    quiet = room_tone_at(-100.0)
    assert loudest_frame_dbfs(quiet.double().numpy(), SR) < VisqolScorer().quiet_reference_dbfs
    damaged = lowpassed(quiet, 4000.0)
    raw = VisqolScorer(quiet_rule=False)
    assert raw.score(quiet, damaged, SR) == pytest.approx(raw.score(quiet, quiet, SR), abs=0.02)
    scorer = VisqolScorer()
    detail = scorer.score_detail(quiet, damaged, SR)
    assert detail.rule is LevelRule.LEVELLED and detail.rule_applied
    assert detail.gain_db == pytest.approx(74.0, abs=0.05)
    assert detail.moslqo < scorer.score(quiet, quiet, SR) - 0.5
    assert scorer.counts == ScoringCounts(references=1, levelled=1, digital_silence=0)


def test_the_rule_level_is_measured_per_mode() -> None:
    """bench/visqol_level.py's levels, and the boundary on the loudest 80 ms frame: 1 dB above is as given."""
    assert VisqolScorer().quiet_reference_dbfs == QUIET_SPEECH_DBFS[SpeechMapping.LATTICE] == -88.0
    assert VisqolScorer(mapping=SpeechMapping.EXPONENTIAL).quiet_reference_dbfs == -82.0
    assert VisqolScorer(VisqolMode.AUDIO).quiet_reference_dbfs == QUIET_AUDIO_DBFS == -79.0
    with pytest.raises(ValueError, match="speech mode's"):
        VisqolScorer(VisqolMode.AUDIO, mapping=SpeechMapping.EXPONENTIAL)
    tone = room_tone_at(-30.0).double()
    top = loudest_frame_dbfs(tone.numpy(), SR)
    scorer = VisqolScorer()
    for offset_db, rule in ((1.0, LevelRule.AS_GIVEN), (-1.0, LevelRule.LEVELLED)):
        at = tone * 10 ** ((-88.0 + offset_db - top) / 20)
        assert scorer.score_detail(at, at, SR).rule is rule


def test_speech_just_above_the_level_still_depends_on_the_signal() -> None:
    """Why the lattice level is -88 and not higher: Google's CA01 speech with its loudest frame at -86 dBFS
    still scores a time-reversed copy 0.16 below a perfect one (bench/visqol_level.py)."""
    speech = load_audio(Path(__file__).parent / "data" / "visqol" / "CA01_01.flac", SR).double()
    speech = speech * 10 ** ((-86.0 - loudest_frame_dbfs(speech.numpy(), SR)) / 20)
    scorer = VisqolScorer()
    perfect, reversed_ = scorer.score_detail(speech, speech, SR), scorer.score_detail(speech, speech.flip(0), SR)
    assert perfect.rule is reversed_.rule is LevelRule.AS_GIVEN
    assert perfect.moslqo - reversed_.moslqo > 0.1


@pytest.mark.parametrize(
    "ref, deg, rate, problem",
    [
        (torch.zeros(0), torch.zeros(0), SR, "reference audio is empty"),
        (torch.ones(2, SR), torch.ones(2, SR), SR, "must be mono"),
        (torch.full((SR,), float("nan")), torch.ones(SR), SR, "reference audio holds non-finite"),
        (torch.ones(SR), torch.full((SR,), float("inf")), SR, "degraded audio holds non-finite"),
        (torch.ones(SR), torch.ones(SR), 0, "sample rate"),
    ],
)
def test_bad_input_is_a_data_error(scorer: VisqolScorer, ref, deg, rate: int, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        scorer.score(ref, deg, rate)


def test_stdout_stays_clean_and_scorer_pickles(demo: list[Clip], capfd: pytest.CaptureFixture[str]) -> None:
    fresh = VisqolScorer()
    assert math.isfinite(fresh.score(demo[0].audio, demo[0].audio, SR))
    assert capfd.readouterr().out == ""
    clone = pickle.loads(pickle.dumps(fresh))
    assert clone.mode is VisqolMode.SPEECH and clone._api is None


def test_score_files(tmp_path: Path, scorer: VisqolScorer, demo: list[Clip]) -> None:
    ref = save_audio(tmp_path / "ref.wav", demo[0].audio, SR)
    deg = save_audio(tmp_path / "deg.wav", with_noise(demo[0].audio, 20.0), SR)
    from_files = score_files(ref, deg)
    assert 1.0 <= from_files.moslqo < score_files(ref, ref).moslqo and not from_files.rule_applied
    with pytest.raises(DataError, match="missing.wav: audio file not found"):
        score_files(tmp_path / "missing.wav", deg)


def test_audio_mode_scores_at_48k(demo: list[Clip]) -> None:
    audio_scorer = VisqolScorer(VisqolMode.AUDIO)
    clip = demo[0].audio[: int(1.2 * SR)]
    assert audio_scorer.sample_rate_hz == 48_000
    assert audio_scorer.score(clip, clip, SR) > 4.0
    with pytest.raises(DataError, match=r"audio mode needs at least 0\.96 s"):
        audio_scorer.score(clip[: SR // 2], clip[: SR // 2], SR)


def test_score_many_in_worker_processes_equals_scoring_one_by_one(demo: list[Clip]) -> None:
    """The batch path (a pool of two processes) gives the same scores, in order, and the same rule counts."""
    quiet = torch.from_numpy(room_tone(np.random.default_rng(3), 2 * SR, SR) * 10 ** (-100 / 20)).float()
    pairs = [(demo[0].audio, with_noise(demo[0].audio, snr)) for snr in (40.0, 25.0)]
    pairs += [(demo[1].audio, with_noise(demo[1].audio, 30.0)), (quiet, with_noise(quiet, 20.0))]
    one_by_one = VisqolScorer()
    expected = [one_by_one.score(ref, deg, SR) for ref, deg in pairs]
    with VisqolScorer(workers=2) as pooled:
        assert pooled.score_many(pairs, SR) == pytest.approx(expected, abs=1e-9)
        assert pooled.counts == one_by_one.counts
        assert pooled.counts.references == 3 and pooled.counts.levelled == 1  # the room tone at -100 dBFS
        assert pooled.seconds > 0
        assert pooled._pool is not None  # it did use worker processes
    assert pooled._pool is None  # closed on leaving the block


def test_score_many_checks_every_pair_before_scoring(demo: list[Clip]) -> None:
    with pytest.raises(DataError, match="non-finite"):
        VisqolScorer(workers=2).score_many([(demo[0].audio, torch.full_like(demo[0].audio, float("nan")))], SR)
    with pytest.raises(ValueError, match="workers"):
        VisqolScorer(workers=0)


def test_a_dead_worker_fails_its_batch_and_the_next_batch_starts_a_new_pool(demo: list[Clip]) -> None:
    import time
    from concurrent.futures.process import BrokenProcessPool

    pair = [(demo[0].audio, with_noise(demo[0].audio, 30.0))]
    with VisqolScorer(workers=2) as scorer:
        first = scorer.score_many(pair, SR)
        for process in list(scorer._pool._processes.values()):
            process.kill()
        time.sleep(0.5)
        with pytest.raises(BrokenProcessPool):
            scorer.score_many(pair, SR)
        assert scorer.score_many(pair, SR) == first
