"""A candidate's name is checked when the candidate is made: one error line naming the key and the rule.

The rule (``spaces.candidate.CANDIDATE_NAME``) keeps a name usable where it is not escaped: as an export
folder and as the command runner's ``{name}``, which a board's shell reads (``runners.command.SHELL_INERT``).
A name read back from storage is kept as written (the report and C export escape whatever it holds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dslnas.hw_models.runners.command import SHELL_INERT
from dslnas.spaces.candidate import CANDIDATE_NAME, STORED, CandidateConfig
from dslnas.spaces.errors import ConfigError
from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.yaml_io import load_model

GOOD = ["demo", "paper", "tiny-d3-w4x4", "demo-d2-w8x8-t0.3", "run_7+a", "x" * 64]
BAD = ["", "a b", "-x", ".hidden", "a/b", "..", "$(reboot)", "x;y", "é", "x" * 65, "evil-<script>"]


@pytest.mark.parametrize("name", GOOD)
def test_a_plain_name_is_kept_and_is_inert_for_a_boards_shell(name: str) -> None:
    assert CandidateConfig(name=name).name == name
    assert SHELL_INERT.match(f"{name}-light_tail")  # what the command runner fills {name} with


@pytest.mark.parametrize("name", BAD)
def test_a_bad_name_is_one_config_error_line_naming_the_key(name: str, tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"candidate: {{preset: demo, name: {name!r}}}\n")
    with pytest.raises(ConfigError) as err:
        load_model(RunConfig, path)
    message = str(err.value)
    assert "key 'candidate.name'" in message and "letters, digits" in message and "\n" not in message


def test_a_stored_name_reads_back_as_written() -> None:
    stored = CandidateConfig().model_copy(update={"name": "old <name>"}).model_dump(mode="json")
    candidate = CandidateConfig.model_validate(stored, context=STORED)
    assert candidate.name == "old <name>" and not CANDIDATE_NAME.fullmatch(candidate.name)
    assert candidate.with_dsl(threshold=0.5).name == "old <name>"  # a copy keeps it
