"""A candidate's name enters the exported C and its Makefile as inert text, whatever it holds (issue 27).

Hostile names try to close the comment they are written into (``*/``, also through a ``??/`` trigraph or a
backslash-newline splice), to start a preprocessor line (a newline), to close a string literal, or to run a
command from the Makefile. The checks compile what was generated: nothing a name says is code.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from dslnas.hw_models.c_export import CExportError, export_c, program_of
from dslnas.hw_models.c_export.build_files import write_build_files
from dslnas.hw_models.c_export.c_text import comment_text, string_literal
from dslnas.hw_models.c_export.emit_model import generate
from dslnas.hw_models.c_export.toolchain import HOST_CC, HOST_CFLAGS, missing_compiler
from dslnas.hw_models.profile import load_profile
from dslnas.spaces.errors import UserError
from dslnas.spaces.presets import demo_candidate
from dslnas.trainers.codec import build_codec

HOSTILE_NAMES = [
    "x */ int pwned(void) { return 1; } /* y",
    "nl\n#define DSL_THRESHOLD 99.0f\nint pwned;",
    "trigraph *??/\n/ int pwned; /*",
    "splice *\\\n/ int pwned; /*",
    'quote " ; int pwned; char *s = " \\" ??= ?? $(touch PWNED) `touch PWNED` \t é 字 🙂',
    "make $(shell touch PWNED) ${PWNED} # \\",
]

pytestmark = pytest.mark.skipif(missing_compiler(HOST_CC) is not None, reason=f"needs {missing_compiler(HOST_CC)}")


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return build_codec(demo_candidate()).encoder.eval()


def _print_name_program(folder: Path) -> Path:
    main = folder / "print_name.c"
    main.write_text('#include <stdio.h>\n#include "dsl_model.h"\n'
                    "int main(void) { fputs(DSL_MODEL_NAME, stdout); return 0; }\n")
    return main


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_stays_a_comment_and_a_string(encoder, tmp_path, name):
    info = export_c(encoder, encoder.candidate.model_copy(update={"name": name}), tmp_path)
    exe = tmp_path / "print_name"
    built = subprocess.run([HOST_CC, *HOST_CFLAGS, "-I", str(tmp_path), str(info.source_path),
                            str(_print_name_program(tmp_path)), "-o", str(exe)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    printed = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    assert printed == name.encode("utf-8")                   # the string literal holds the name and only it
    code = subprocess.run([HOST_CC, "-std=c99", "-E", "-P", "-I", str(tmp_path), str(info.source_path)],
                          capture_output=True, text=True, check=True).stdout
    assert "pwned" not in code                               # no comment was closed, no line was started
    assert "99.0f" not in code


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_runs_nothing_from_the_makefile(encoder, tmp_path, name):
    info = export_c(encoder, encoder.candidate.model_copy(update={"name": name}), tmp_path / "out")
    files = write_build_files(info, None, f"profile {name}")
    assert not files.cross
    dry = subprocess.run(["make", "-n", "-C", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "cc -std=c99" in dry.stdout and "pwned" not in dry.stdout.lower()
    assert not list(tmp_path.rglob("PWNED"))
    comments = [line for line in files.makefile.read_text().splitlines() if line.startswith("#")]
    assert len(comments) == 4 and all("\n" not in c and not c.endswith("\\") for c in comments)


def test_escapes_are_exact_and_bounded():
    assert comment_text("a*/b") == "a\\x2a\\x2fb"
    assert comment_text("x" * 500).endswith("...") and len(comment_text("x" * 500)) == 123
    assert string_literal('é"?1') == '"\\303\\251\\042\\0771"'   # octal escapes never absorb the digit after


def test_a_chain_name_that_is_not_an_identifier_is_refused(encoder):
    program = program_of(encoder)
    program.tails[1] = dataclasses.replace(program.tails[1], name="full; int pwned")
    with pytest.raises(CExportError, match="cannot be part of a C identifier"):
        generate(program, 0.3, "warm", False)


@pytest.mark.parametrize("target", [{"compiler": "gcc; touch PWNED", "cpu_flags": []},
                                    {"compiler": "-gcc", "cpu_flags": []},
                                    {"compiler": "gcc", "cpu_flags": ["-O2 $(shell touch PWNED)"]},
                                    {"compiler": "gcc", "cpu_flags": ["-mcpu=a32\n\trm -rf ~"]},
                                    {"compiler": "gcc", "cpu_flags": ["mcpu=a32"]}])
def test_a_profile_target_that_is_not_plain_words_is_a_config_error(tmp_path, target):
    """The compiler and flags are written into the Makefile as they are, so a profile must hold plain words."""
    profile = load_profile("a32-emulated").model_dump(mode="json")
    profile["units"][profile["default_unit"]]["c_target"] = target
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(profile))
    with pytest.raises(UserError, match="c_target"):
        load_profile(path)
