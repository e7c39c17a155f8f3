"""The CLI's shared behaviour: plain progress lines in logs, a run whose every trial failed, study names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from dslnas.search.cli import cli
from dslnas.search.cli.common import PlainProgress
from dslnas.search.config import SearchConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.space_presets import demo_space

TINY_SPACE = Path(__file__).parent / "data" / "tiny-space.yaml"


def test_plain_progress_prints_each_trial_and_throttles_steps() -> None:
    out = io.StringIO()
    with PlainProgress(stream=out, min_interval_s=3600) as bar:
        steps = bar.add_task("base codec", total=800, status="")
        trials = bar.add_task("trials", total=3, status="")
        for step in range(1, 801):
            bar.update(steps, completed=step, status=f"loss {1 / step:.3f}")
        for done in (1, 2, 2, 3):
            bar.update(trials, completed=done, status=f"front {done}")
    lines = out.getvalue().splitlines()
    assert [ln for ln in lines if ln.startswith("trials")] == ["trials: 1/3 front 1", "trials: 2/3 front 2", "trials: 3/3 front 3"]
    step_lines = [ln for ln in lines if ln.startswith("base codec")]
    assert step_lines[0].startswith("base codec: 1/800") and step_lines[-1].startswith("base codec: 800/800")
    assert len(step_lines) == 2  # the first, then only the last within the hour


def test_search_exits_non_zero_when_every_trial_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dslnas.search.run as run_module
    from dslnas.search.trial import TrialRunner

    def broken(self: TrialRunner, candidate: object, trial_key: str) -> None:
        raise RuntimeError("a bug in every trial")

    monkeypatch.setattr(run_module, "ensure_base_codec", lambda config, on_step=None: tmp_path / "base.pt")
    monkeypatch.setattr(TrialRunner, "run", broken)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["search", "--space", str(TINY_SPACE), "--trials", "2", "--study", "broken"])
    assert result.exit_code == 1, result.output
    assert "error: all 4 trial(s) of this run failed" in result.stderr
    listed = CliRunner().invoke(cli, ["trials", "--study", "broken", "--json"])
    assert listed.exit_code == 0 and "a bug in every trial" in listed.stdout


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "", ".hidden", "x" * 200])
def test_study_names_that_are_not_safe_folder_names_are_refused(name: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UserError, match="study name"):
        SearchConfig(study=name, space=demo_space())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["trials", "--study", name])
    assert result.exit_code == 2 and "error:" in result.stderr
    assert not any(tmp_path.iterdir())  # a read-only command wrote nothing


def test_read_only_commands_on_a_missing_study_write_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for args in (["trials", "--study", "nosuch"], ["report", "--study", "nosuch"], ["export", "--study", "nosuch", "--trial", "0"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2 and "no study 'nosuch'" in result.stderr, result.output
    assert not any(tmp_path.iterdir())


def test_data_synth_writes_a_labelled_manifest(tmp_path: Path) -> None:
    import csv
    import json

    out = tmp_path / "corpus"
    result = CliRunner().invoke(cli, ["data", "synth", "--out", str(out), "--minutes", "0.2", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    rows = list(csv.DictReader((out / "manifest.csv").open()))
    assert {r["label"] for r in rows} == {"speech", "silence"} and set(payload["clips"]) == {"speech", "silence"}
    assert all((out / r["path"]).exists() for r in rows)
    again = CliRunner().invoke(cli, ["data", "synth", "--out", str(out), "--minutes", "0.2"])
    assert again.exit_code == 2 and "error:" in again.stderr  # never writes into a corpus that is there


def test_data_synth_lists_voices_and_names_an_unknown_one(tmp_path: Path) -> None:
    import json

    from dslnas.trainers.data.synth_piper import available_piper_voices
    from dslnas.trainers.data.voices import available_voices

    listed = CliRunner().invoke(cli, ["data", "synth", "--voices", "list", "--json"])  # listing needs no --out
    assert listed.exit_code == 0, listed.output
    installed = [*available_voices(), *available_piper_voices()]
    assert [v["voice"] for v in json.loads(listed.stdout)] == [v.voice_id for v in installed]
    bad = CliRunner().invoke(cli, ["data", "synth", "--out", str(tmp_path / "y"), "--voices", "flite-nosuch"])
    assert bad.exit_code == 2 and "unknown voice 'flite-nosuch'" in bad.stderr, bad.output
    assert not (tmp_path / "y").exists()
    nowhere = CliRunner().invoke(cli, ["data", "synth", "--minutes", "0.1"])
    assert nowhere.exit_code == 2 and "needs --out" in nowhere.stderr, nowhere.output


def test_data_join_writes_one_manifest_and_names_a_missing_one(tmp_path: Path) -> None:
    import json

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.csv").write_text(f"path,label,speaker\n{name}.wav,speech,s-{name}\n")
    joined = CliRunner().invoke(cli, ["data", "join", "--out", str(tmp_path / "ab"), str(tmp_path / "a"),
                                      str(tmp_path / "b" / "manifest.csv"), "--json"])
    assert joined.exit_code == 0, joined.output
    assert json.loads(joined.stdout)["speakers"] == ["s-a", "s-b"]
    missing = CliRunner().invoke(cli, ["data", "join", "--out", str(tmp_path / "c"), str(tmp_path / "a"), str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "nope.csv: manifest CSV not found" in missing.stderr, missing.output
