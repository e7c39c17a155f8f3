"""Names that reach a board through the ``command`` runner's placeholders cannot run there (issue 27).

The fake ``ssh`` below does what ssh does: it joins its arguments with spaces and hands the line to a shell
(here a local ``sh -c``). A hostile name must be refused before anything runs, and a plain one still measured.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from dslnas.hw_models.runners.artifact import Artifact, ArtifactFormat
from dslnas.hw_models.runners.base import MeasurementError
from dslnas.hw_models.runners.command import CommandRunner

HOSTILE_NAMES = ["$(touch PWNED)", "`touch PWNED`", "x; touch PWNED", "x && touch PWNED", "x | touch PWNED",
                 "x\ntouch PWNED", "-oProxyCommand=touch PWNED", "x' ; touch PWNED '", "a b"]


@pytest.fixture
def fake_ssh(tmp_path: Path) -> Path:
    """``ssh HOST ARGS...``: the remote side runs ``ARGS`` joined by spaces in a shell, in ``tmp_path``."""
    script = tmp_path / "ssh"
    script.write_text(f"#!{sys.executable}\nimport subprocess, sys\n"
                      f"subprocess.run(['sh', '-c', ' '.join(sys.argv[2:])], cwd={str(tmp_path)!r}, check=True)\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _board(ssh: Path, placeholder: str) -> CommandRunner:
    return CommandRunner([str(ssh), "board", "echo", placeholder, ">/dev/null;", "echo", "'{\"latency_ms\": 2.0}'"])


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_never_reaches_the_board_shell(fake_ssh, tmp_path, name):
    artifact = Artifact(name, tmp_path / "x-full.onnx", ArtifactFormat.ONNX, (1, 1, 8))
    with pytest.raises(MeasurementError, match=r"\{name\} would be"):
        _board(fake_ssh, "{name}").measure(artifact)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("folder", ["$(touch PWNED)", "-rf", "with space"])
def test_a_hostile_artifact_path_never_reaches_the_board_shell(fake_ssh, tmp_path, folder):
    path = Path(folder) / "x-full.onnx" if folder.startswith("-") else tmp_path / folder / "x-full.onnx"
    artifact = Artifact("x-full", path, ArtifactFormat.ONNX, (1, 1, 8))
    with pytest.raises(MeasurementError, match=r"\{artifact\} would be"):
        _board(fake_ssh, "{artifact}").measure(artifact)
    assert not (tmp_path / "PWNED").exists()


def test_a_plain_name_is_measured_through_the_board_shell(fake_ssh, tmp_path):
    artifact = Artifact("demo-t3.v2_full", tmp_path / "demo-t3.v2_full.onnx", ArtifactFormat.ONNX, (1, 1, 3200))
    result = CommandRunner([str(fake_ssh), "board", "echo", "{name}", "{artifact}", "{format}", "{input_shape}",
                            ">seen;", "echo", "'{\"latency_ms\": 2.0}'"]).measure(artifact)
    assert result.latency_ms_median == 2.0
    assert (tmp_path / "seen").read_text().split() == ["demo-t3.v2_full", str(artifact.path), "onnx", "1,1,3200"]


def test_an_unused_placeholder_is_not_checked(fake_ssh, tmp_path):
    """Only what the template fills in is checked: a template without {name} measures any name."""
    artifact = Artifact("odd name $(x)", tmp_path / "odd.onnx", ArtifactFormat.ONNX, (1, 1, 8))
    assert _board(fake_ssh, "{format}").measure(artifact).latency_ms_median == 2.0
