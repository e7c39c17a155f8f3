"""The shipped base and any checkpoint are one argument away: ``evaluate`` and ``stream`` on ``pretrained:NAME``
(full path only, DSL inert) and on a user's own folder of recordings, checked in seconds before compute."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.search.point_source import SourceKind, resolve_point
from dslnas.spaces.errors import UserError
from dslnas.trainers.data.audio_io import save_audio
from dslnas.trainers.data.demo_audio import generate_demo_clips

RATE = 16_000


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """speech/ and silence/ folders: 1 s clips, two 0.4 s silence clips (joined), one lone 0.3 s speech clip
    (skipped) and one 8 kHz file (below the codec's rate)."""
    root = tmp_path_factory.mktemp("recordings")
    clips = generate_demo_clips(2, 1.0, RATE, 5)
    for clip in clips:
        save_audio(root / clip.label / f"{clip.clip_id}.wav", clip.audio, RATE)
    silence = next(c for c in clips if c.label == "silence").audio
    save_audio(root / "silence" / "room" / "short-a.wav", silence[:6400], RATE)
    save_audio(root / "silence" / "room" / "short-b.wav", silence[6400:12800], RATE)
    speech = next(c for c in clips if c.label == "speech").audio
    save_audio(root / "speech" / "lone" / "tiny.wav", speech[:4800], RATE)
    soundfile.write(root / "speech" / "phone-8k.wav", speech[::2].numpy(), 8000)
    return root


def _json(args: list[str]) -> dict:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_evaluate_scores_the_shipped_base_on_its_full_path_on_a_users_folder(recordings: Path) -> None:
    out = _json(["evaluate", "--checkpoint", "pretrained:speech16k", "--data", str(recordings), "--json"])
    point, data = out["point"], out["data"]
    assert point["kind"] == "pretrained" and point["dsl_inert"] and point["threshold"] == 0.0
    assert out["light_usage"] == 0.0 and out["sweep"] == [] and out["paths"]["light"]["visqol"] is None
    assert 1.0 <= out["paths"]["full"]["visqol"] <= 5.0
    assert out["paths"]["mixed"]["visqol"] == pytest.approx(out["paths"]["full"]["visqol"])
    assert set(out["visqol_per_class"]) == {"speech", "silence"}
    # the check, from headers: the 8 kHz file named, short ones named; the rule: two joined, the lone one skipped
    assert data["below_rate"] == ["speech/phone-8k.wav"] and data["file_rates_hz"] == {"8000": 1, "16000": 5}
    assert set(data["short"]) == {"silence/room/short-a.wav", "silence/room/short-b.wav", "speech/lone/tiny.wav"}
    assert data["joined"] == ["silence/room/short-a.wav", "silence/room/short-b.wav"]
    assert data["skipped"] == ["speech/lone/tiny.wav"] and data["evaluated_clips"] == out["clips"] == 4
    assert data["eval_clip_seconds"] == 2.0  # the demo space's evaluation cut, kept with --data


def test_stream_runs_the_shipped_base_on_its_full_path(recordings: Path, tmp_path: Path) -> None:
    wav = recordings / "speech" / "demo-000-speech.wav"
    out = _json(["stream", "--checkpoint", "pretrained:speech16k", "--audio", str(wav),
                 "--out", str(tmp_path / "o.wav"), "--json"])
    assert set(out["routes"]) == {"full"} and out["light_usage"] == 0.0 and out["point"]["dsl_inert"]
    assert soundfile.info(str(tmp_path / "o.wav")).frames == RATE
    light = CliRunner().invoke(cli, ["stream", "--checkpoint", "pretrained:speech16k", "--audio", str(wav),
                                     "--out", str(tmp_path / "l.wav"), "--route", "light"])
    assert light.exit_code == 2 and "without a trained DSL" in light.stderr and "\n" not in light.stderr.strip()


def test_the_shipped_file_is_the_base_too_and_a_threshold_on_it_is_refused() -> None:
    from dslnas.trainers.pretrained import pretrained_checkpoint

    point = resolve_point(str(pretrained_checkpoint("speech16k")))
    assert point.kind is SourceKind.PRETRAINED and point.eval_data is not None
    assert point.eval_data.eval_clip_seconds == 2.0  # found as the demo space's base
    with pytest.raises(UserError, match="full path only"):
        point.at_threshold(0.2)


@pytest.mark.parametrize(("args", "message"), [
    ([], "give either --checkpoint"),
    (["--checkpoint", "pretrained:nope"], "unknown pretrained base 'nope'"),
    (["--checkpoint", "pretrained:speech16k", "--study", "s", "--trial", "1"], "give either --checkpoint"),
    (["--study", "s"], "needs both --study and --trial"),
])
def test_a_bad_point_is_one_error_line(args: list[str], message: str, recordings: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--data", str(recordings), *args])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_eval_clip_cut_below_one_second_is_refused(recordings: Path) -> None:
    result = CliRunner().invoke(cli, ["evaluate", "--checkpoint", "pretrained:speech16k", "--data", str(recordings),
                                      "--eval-clip-seconds", "0.5"])
    assert result.exit_code == 2 and "--eval-clip-seconds must be 0 (whole clips) or at least 1" in result.stderr


def test_data_check_reads_headers_only(recordings: Path) -> None:
    from dslnas.trainers.data import load_dataset
    from dslnas.trainers.data.check import check_clips
    from dslnas.trainers.data.layout import data_config_for

    clips = load_dataset(data_config_for(recordings), RATE, min_samples=1)
    assert not any(c.in_memory for c in clips)
    check = check_clips("mine", clips, RATE, 10_240)
    assert check.clips == 6 and check.per_label["silence"].clips == 3
    assert math.isclose(check.shortest_s, 0.3) and check.longest_s == 1.0
    assert any("phone-8k.wav" in line for line in check.lines())


def test_preflight_reads_every_header_and_names_an_unreadable_file(recordings: Path, tmp_path: Path) -> None:
    import shutil

    from dslnas.search.preflight import check_data
    from dslnas.spaces.errors import DataError
    from dslnas.trainers.data.layout import data_config_for

    check = check_data(data_config_for(recordings), RATE)
    assert check is not None and check.clips == 6 and check.below_rate == ("speech/phone-8k.wav",)
    broken = tmp_path / "broken"
    shutil.copytree(recordings, broken)
    (broken / "speech" / "bad.wav").write_bytes(b"RIFF not really a wav file")
    with pytest.raises(DataError, match="bad.wav"):
        check_data(data_config_for(broken), RATE)


def test_search_data_keeps_the_space_evaluation_settings(recordings: Path) -> None:
    from dslnas.search.cli.search import _user_data
    from dslnas.spaces.space_presets import load_space

    space = load_space("demo")
    data = _user_data(recordings, space)
    settings = space.finetune.data
    assert data.path == str(recordings) and data.eval_clip_seconds == settings.eval_clip_seconds == 2.0
    assert (data.eval_fraction, data.seed) == (settings.eval_fraction, settings.seed)


def test_export_c_of_the_shipped_base_routes_nothing_light(tmp_path: Path) -> None:
    out = _json(["export", "--checkpoint", "pretrained:speech16k", "--format", "c", "--out", str(tmp_path / "c"), "--json"])
    assert out["threshold"] == 0.0 and out["point"]["dsl_inert"] and out["point"]["kind"] == "pretrained"
    assert {"dsl_model.c", "dsl_model.h", "base-with-dsl.pt"} <= {p.name for p in (tmp_path / "c").iterdir()}
