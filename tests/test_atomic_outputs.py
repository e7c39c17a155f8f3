"""Outputs written whole or not at all (``spaces.atomic_io``), and the commands' outputs that go through it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dslnas.spaces import atomic_io
from dslnas.spaces.atomic_io import atomic_file, atomic_folder, atomic_write_text, relocated
from dslnas.spaces.errors import UserError

KILLED_WRITER = """
import os, sys
from pathlib import Path
from dslnas.spaces.atomic_io import atomic_file
with atomic_file(Path(sys.argv[1])) as tmp, open(tmp, "w") as f:
    f.write("half of the new ")
    f.flush()
    os.kill(os.getpid(), 9)
"""


def test_a_writer_killed_mid_file_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "index.html"
    target.write_text("the previous good report")
    result = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], capture_output=True)
    assert result.returncode == -9
    assert target.read_text() == "the previous good report"


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "trials.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["trials.csv"]


def test_a_file_target_that_is_a_folder_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a folder"):
        atomic_write_text(tmp_path, "x")


def test_the_temporary_name_keeps_the_suffix_for_writers_that_read_it(tmp_path: Path) -> None:
    assert atomic_io.temporary_name(tmp_path / "pareto_latency.png").suffix == ".png"


def test_a_failed_folder_export_leaves_the_earlier_one_unmixed(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "front.onnx").write_text("trial 1")
    (out / "routed.json").write_text("trial 1")
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(RuntimeError), atomic_folder(out) as fresh:
        (fresh / "front.onnx").write_text("trial 2")
        raise RuntimeError("killed before routed.json")
    assert {p.name: p.read_text() for p in out.iterdir()} == {"front.onnx": "trial 1", "routed.json": "trial 1",
                                                              "notes.txt": "the user's"}
    with atomic_folder(out) as fresh:
        (fresh / "front.onnx").write_text("trial 2")
        (fresh / "routed.json").write_text("trial 2")
    assert {p.name: p.read_text() for p in out.iterdir()} == {"front.onnx": "trial 2", "routed.json": "trial 2",
                                                              "notes.txt": "the user's"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


@dataclass(frozen=True)
class Info:
    out_dir: Path
    source_path: Path
    threshold: float


def test_relocated_moves_the_paths_of_a_result_to_the_target(tmp_path: Path) -> None:
    fresh, target = tmp_path / ".out.1.tmp", tmp_path / "out"
    info = relocated(Info(fresh, fresh / "model.c", 0.5), fresh, target)
    assert info == Info(target, target / "model.c", 0.5)


def test_every_report_file_is_written_through_the_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.search.report.files import write_report
    from study_fixtures import build_demo_study

    renamed: list[str] = []
    real_replace = os.replace

    def replace(src: object, dst: object) -> None:
        renamed.append(Path(str(dst)).name)
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic_io.os, "replace", replace)
    files = write_report(build_demo_study(f"sqlite:///{tmp_path / 's.db'}"), tmp_path / "report")
    assert {"index.html", "trials.csv", "pareto.json"} <= set(renamed)
    assert {p.name for p in files.pngs} <= set(renamed)
    assert not [p for p in (tmp_path / "report").rglob(".*tmp*")]
