"""A journal file that a full disk or a killed writer cannot make unreadable (``search.journal_file``).

Every test counts the completed trials before and after the damage: none may be lost.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from click.testing import CliRunner

from dslnas.search import journal_file
from dslnas.search import storage as storage_module
from dslnas.search.cli import cli
from dslnas.search.storage import open_storage
from dslnas.spaces.errors import UserError

TORN = b'{"op_code":6,"worker_id":"abc","trial_id":3,"user_attr":{"dslnas.recor'


def journal_study(path: Path) -> optuna.Study:
    return optuna.create_study(study_name="j", storage=open_storage(str(path), "j"), load_if_exists=True)


def completed_values(path: Path) -> list[float]:
    return [t.value for t in journal_study(path).get_trials(states=(TrialState.COMPLETE,))]


def add_completed(path: Path, values: list[float]) -> None:
    study = journal_study(path)
    for value in values:
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("payload", "y" * 200)
        study.tell(trial, value)


def side_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".torn-*"))


def test_a_torn_last_line_is_set_aside_with_one_warning_and_nothing_completed_is_lost(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.log"
    add_completed(path, [1.0, 2.0, 3.0])
    capsys.readouterr()
    with open(path, "ab") as f:
        f.write(TORN)  # a writer killed mid-line
    assert completed_values(path) == [1.0, 2.0, 3.0]
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: journal file") and str(len(TORN)) in warnings[0]
    assert [f.read_bytes() for f in side_files(path)] == [TORN]
    add_completed(path, [4.0])  # the next append starts a line of its own
    assert completed_values(path) == [1.0, 2.0, 3.0, 4.0]
    assert capsys.readouterr().err == ""  # whole again: no second warning


def test_an_operation_glued_to_a_torn_prefix_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.log"
    add_completed(path, [1.0, 2.0])
    offset = path.stat().st_size
    add_completed(path, [5.0])
    whole = path.read_bytes()  # as an earlier version wrote it: the next operation glued to the torn bytes
    path.write_bytes(whole[:offset] + TORN + whole[offset:])
    assert completed_values(path) == [1.0, 2.0, 5.0]
    assert "set aside" in capsys.readouterr().err
    assert [f.read_bytes() for f in side_files(path)] == [TORN]


def test_damage_that_is_not_a_torn_write_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    add_completed(path, [1.0, 2.0])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], b"garbage\n", *lines[1:]]))
    with pytest.raises(UserError, match=r"line 2 is damaged"):
        journal_study(path)


class FullDiskFile:
    """A file object that writes part of what it is given, then fails as a full disk does."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        self.real.write(data[: len(data) // 2])
        self.real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def __enter__(self) -> "FullDiskFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()


def test_a_write_on_a_full_disk_leaves_the_journal_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.log"
    add_completed(path, [1.0, 2.0])
    study = journal_study(path)
    before = path.read_bytes()
    monkeypatch.setattr(journal_file, "open", lambda *a, **k: FullDiskFile(open(*a, **k)), raising=False)
    with pytest.raises(journal_file.JournalDiskFull, match="No space left") as failed:
        study.enqueue_trial({"x": 0.5})
    monkeypatch.undo()
    message = str(failed.value)  # what the CLI prints after "error: "
    assert "\n" not in message and message.startswith(f"journal file {path}: disk full") and "rerun" in message
    assert path.read_bytes() == before  # the half line was taken back
    capsys.readouterr()
    assert completed_values(path) == [1.0, 2.0] and capsys.readouterr().err == ""


FULL_DISK_SCRIPT = """
import sys
from pathlib import Path
import optuna
from dslnas.search.storage import open_storage
from dslnas.spaces.errors import UserError

folder = Path(sys.argv[1])
url = sys.argv[2].replace("DIR", str(folder))
study = optuna.create_study(study_name="j", storage=open_storage(url, "j"))
import shutil
(folder / "filler").write_bytes(b"0" * (shutil.disk_usage(folder).free - int(sys.argv[3])))
done = 0
try:
    for n in range(10_000):
        trial = study.ask()
        trial.set_user_attr("payload", "y" * 2000)
        study.tell(trial, float(n))
        done += 1
except Exception as err:
    print("failed:", type(err).__name__, str(err).splitlines()[0], file=sys.stderr)
(folder / "filler").unlink()
try:
    rerun = optuna.load_study(study_name="j", storage=open_storage(url, "j"))
    rerun.tell(rerun.ask(), float(done))  # the next run goes on where the full disk stopped the first
    reread = optuna.load_study(study_name="j", storage=open_storage(url, "j"))
except Exception as err:
    print("unreadable:", type(err).__name__)
    sys.exit(3)
complete = reread.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
print(done, len(complete), [t.value for t in complete] == [float(n) for n in range(len(complete))])
"""


def on_a_small_tmpfs(url: str, tmp_path: Path) -> tuple[list[str], str]:
    """Run :data:`FULL_DISK_SCRIPT` on a 1 MiB tmpfs mounted in a namespace of its own (skip where none can be)."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a tmpfs")
    folder = tmp_path / "small"
    folder.mkdir()
    script = tmp_path / "full_disk.py"
    script.write_text(FULL_DISK_SCRIPT)
    command = (f"mount -t tmpfs -o size=1m tmpfs {folder} && "
               f"{sys.executable} {script} {folder} {url} 40000")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, timeout=300)
    if "mount" in result.stderr and result.returncode != 0 and not result.stdout:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    return result.stdout.split(), result.stderr


@pytest.mark.parametrize("url", ["DIR/j.log", "sqlite:///DIR/j.db"])
def test_a_full_tmpfs_loses_no_completed_trial_and_the_study_still_reads(url: str, tmp_path: Path) -> None:
    out, err = on_a_small_tmpfs(url, tmp_path)
    assert "failed:" in err, err  # the disk did fill up
    assert len(out) == 3, (out, err)
    done, complete, in_order = int(out[0]), int(out[1]), out[2]
    assert done > 0 and complete == done + 1 and in_order == "True"


def damaged_copies(good: Path) -> dict[str, bytes]:
    whole = good.read_bytes()
    pages = 2 * 4096  # the header and the schema stay; the tables' pages are overwritten
    return {"garbage": bytes(range(256)) * 20, "truncated": whole[: len(whole) // 3],
            "overwritten": whole[:pages] + b"garbage!" * ((len(whole) - pages) // 8)}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "overwritten"])
def test_a_damaged_sqlite_file_is_one_error_line(damage: str, tmp_path: Path) -> None:
    good = tmp_path / "good.db"
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{good}")
    for n in range(20):
        study.tell(study.ask(), float(n))
    bad = tmp_path / f"{damage}.db"
    bad.write_bytes(damaged_copies(good)[damage])
    result = CliRunner().invoke(cli, ["trials", "--study", "s", "--storage", f"sqlite:///{bad}"])
    assert result.exit_code in (1, 2), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    assert "database" in lines[0] or "malformed" in lines[0]


def test_a_full_disk_under_a_command_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "runs/s/optuna.db")

    monkeypatch.setattr(storage_module, "load_existing_study", full)
    result = CliRunner().invoke(cli, ["trials", "--study", "s"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["error: No space left on device: runs/s/optuna.db"]
