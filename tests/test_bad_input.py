"""Issue 16 section 3: every bad input is one ``error:`` line naming the thing and what is wrong, exit code 2,
and nothing written half. CLI cases go through ``CliRunner``; API cases call the function."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dslnas.hw_models.profile import load_profile
from dslnas.search.cli import cli
from dslnas.search.config import SearchConfig
from dslnas.search.preflight import check_storage, preflight
from dslnas.search.storage import open_storage, resolve_storage_url
from dslnas.spaces.candidate import CandidateConfig, DSLConfig
from dslnas.spaces.run_config import DataConfig, DatasetKind, RunConfig
from dslnas.spaces.errors import ConfigError, DataError, UserError
from dslnas.spaces.presets import CANDIDATE_PRESETS
from dslnas.spaces.space import FloatRange
from dslnas.spaces.space_presets import SPACE_PRESETS, demo_space
from dslnas.spaces.yaml_io import dump_model, load_model
from dslnas.trainers.checkpoint import FORMAT, load_checkpoint

REPO = Path(__file__).resolve().parents[1]
PROFILE_YAML = REPO / "hw_models" / "profiles" / "a32-paper.yaml"
UNREACHABLE_PG = "postgresql://user:secret@127.0.0.1:1/db"  # port 1: refused at once, no server needed


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and the stderr lines that start with ``error:`` (asserted to be exactly one on failure)."""
    result = CliRunner().invoke(cli, list(args))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, "\n".join(errors)


def assert_one_error(args: tuple[str, ...], *needles: str) -> str:
    code, errors = invoke(*args)
    assert code == 2, errors
    assert len(errors.splitlines()) == 1, errors
    for needle in needles:
        assert needle in errors, errors
    return errors


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def under_a_file(tmp_path: Path) -> Path:
    """A path that cannot be created on any machine, even as root: its parent is a regular file."""
    return write(tmp_path / "plain-file", "x") / "sub"


@pytest.fixture
def read_only_place() -> Path:
    """A folder this process cannot write in (sysfs refuses new files, even to root)."""
    place = Path("/sys/dslnas-bad-input-test")
    if not Path("/sys").is_dir():
        pytest.skip("no /sys to stand for a read-only place")
    return place


# -- storage: the documented postgresql:// form -----------------------------------------------------------

def test_documented_postgresql_url_resolves_to_the_installed_driver() -> None:
    import sqlalchemy

    url = resolve_storage_url("postgresql://user@host/db")
    assert url == "postgresql+psycopg2://user@host/db"
    engine = sqlalchemy.create_engine(url)  # imports the DB-API module; connects to nothing
    assert engine.dialect.driver == "psycopg2"
    engine.dispose()
    assert resolve_storage_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert resolve_storage_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"  # an explicit driver stays
    check_storage("postgresql://user@host/db")  # preflight: parses, driver imports


def test_unreachable_postgresql_is_one_line_naming_the_host_not_an_import_error() -> None:
    with pytest.raises(UserError) as err:
        open_storage(UNREACHABLE_PG, "demo")
    message = str(err.value)
    assert "127.0.0.1" in message and "import" not in message.lower() and "\n" not in message
    assert "secret" not in message  # the password is not printed


def test_unreachable_postgresql_on_the_cli() -> None:
    errors = assert_one_error(("trials", "--study", "demo", "--storage", UNREACHABLE_PG), "127.0.0.1")
    assert "import" not in errors.lower() and "secret" not in errors


# -- preflight: mistakes caught before compute is spent -----------------------------------------------------

def search_config(tmp_path: Path, **changes: object) -> SearchConfig:
    return SearchConfig(space=demo_space(), runs_root=str(tmp_path / "runs"), **changes)


def test_preflight_passes_the_demo_search_and_writes_nothing(tmp_path: Path) -> None:
    preflight(search_config(tmp_path))
    assert not (tmp_path / "runs").exists()


def test_preflight_rejects_an_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown device profile 'nope'"):
        preflight(search_config(tmp_path, profile="nope"))


def test_preflight_rejects_a_knob_range_that_yields_invalid_candidates(tmp_path: Path) -> None:
    space = demo_space().model_copy(update={"alpha": FloatRange(low=-1.0, high=1.0)})  # holds the base's 1.0
    with pytest.raises(ConfigError, match=r"alpha = -1.0 gives an invalid candidate: key 'dsl.alpha'"):
        preflight(SearchConfig(space=space, runs_root=str(tmp_path)))


def test_preflight_rejects_a_width_choice_wider_than_the_full_path_at_some_depth(tmp_path: Path) -> None:
    # demo: stem 8 channels, blocks (16, 24, 32); a width of 20 is too wide for entry 0 at depth 1 (16)
    space = demo_space().model_copy(update={"light_width_choices": (4, 8, 20), "widths_per_depth": False})  # shared entries
    with pytest.raises(ConfigError, match=r"light_width_0 = 20 with switch_depth = 1 .*light_widths\[0\] is 20, wider than the full path's 16"):
        preflight(SearchConfig(space=space, runs_root=str(tmp_path)))


def test_every_preset_space_passes_the_knob_check(tmp_path: Path) -> None:
    from dslnas.search.preflight import check_space

    for make in SPACE_PRESETS.values():
        check_space(make())


@pytest.mark.parametrize("kind", ["missing", "no-audio"])
def test_preflight_rejects_data_without_audio(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "audio"
    if kind == "no-audio":
        write(folder / "notes.txt", "no audio here")
    data = DataConfig(kind=DatasetKind.FOLDER, path=str(folder))
    with pytest.raises(DataError, match=str(folder)):
        preflight(search_config(tmp_path, data=data))


def test_preflight_rejects_an_unwritable_runs_root(tmp_path: Path, under_a_file: Path) -> None:
    with pytest.raises(UserError, match="runs folder .* cannot be created"):
        preflight(SearchConfig(space=demo_space(), runs_root=str(under_a_file)))


def test_preflight_rejects_a_journal_on_a_read_only_place(tmp_path: Path, read_only_place: Path) -> None:
    with pytest.raises(UserError, match="journal folder .* is not writable"):
        preflight(search_config(tmp_path, storage=str(read_only_place / "optuna.log")))


def test_train_out_unwritable_fails_before_training(tmp_path: Path, under_a_file: Path) -> None:
    assert_one_error(("train", "--config", str(REPO / "configs" / "demo.yaml"), "--out", str(under_a_file)),
                     "--out folder", str(under_a_file))


def test_train_out_read_only_fails_before_training(read_only_place: Path) -> None:
    assert_one_error(("train", "--config", str(REPO / "configs" / "demo.yaml"), "--out", str(read_only_place)),
                     "not writable")


# -- accepted but wrong ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["alpha", "threshold"])
def test_cost_rejects_a_non_finite_dsl_value_naming_the_key(tmp_path: Path, key: str) -> None:
    cfg = write(tmp_path / "cand.yaml", f"dsl: {{{key}: .inf}}\n")
    assert_one_error(("cost", "--config", str(cfg), "--json"), f"key 'dsl.{key}'", "finite")


def test_train_rejects_a_non_finite_threshold_before_training(tmp_path: Path) -> None:
    cfg = write(tmp_path / "run.yaml", "candidate: {preset: demo, dsl: {threshold: .nan}}\n")
    assert_one_error(("train", "--config", str(cfg), "--out", str(tmp_path / "out")), "candidate.dsl.threshold")
    assert not (tmp_path / "out").exists()


def test_non_finite_values_are_rejected_by_the_python_api_too() -> None:
    for bad in ({"alpha": math.inf}, {"threshold": math.nan}, {"beta": -math.inf}):
        with pytest.raises(ValueError, match="finite"):
            DSLConfig(**bad)
    with pytest.raises(ValueError, match="finite"):
        FloatRange(low=0.0, high=math.inf)


def test_profile_with_an_infinite_coefficient_is_an_error_naming_the_key(tmp_path: Path) -> None:
    profile = write(tmp_path / "inf.yaml", f"extends: {PROFILE_YAML}\nunits: {{a32: {{latency: {{conv: {{ns_per_op: .inf}}}}}}}}\n")
    assert_one_error(("cost", "--preset", "demo", "--profile", str(profile), "--json"),
                     str(profile), "key 'units.a32.latency.conv.ns_per_op'", "finite")
    with pytest.raises(ConfigError, match="finite"):
        load_profile(profile)


def test_light_widths_wider_than_the_full_path_are_rejected(tmp_path: Path) -> None:
    cfg = write(tmp_path / "wide.yaml", "candidate: {preset: paper, dsl: {light_widths: [9, 200]}}\n")
    assert_one_error(("cost", "--config", str(cfg)), "light_widths[1] is 200", "full path's 96")
    with pytest.raises(ValueError, match=r"light_widths\[0\] is 40, wider than the full path's 32"):
        CandidateConfig(dsl=DSLConfig(switch_depth=3, light_widths=(40, 10)))


def test_presets_still_validate_under_the_width_rule() -> None:
    for make in CANDIDATE_PRESETS.values():
        candidate = make()
        assert all(light <= full for light, full in zip(candidate.dsl.light_widths, candidate.full_tail_widths))
    for make in SPACE_PRESETS.values():
        make()
    for name in ("demo.yaml", "ablation-light-thin.yaml", "paper.yaml"):
        load_model(RunConfig, REPO / "configs" / name)


def test_cost_switch_depth_narrows_widths_wider_than_the_full_path() -> None:
    code, _ = invoke("cost", "--preset", "paper", "--switch-depth", "1", "--json")
    assert code == 0


@pytest.mark.parametrize("command", [("cost", "--config"), ("train", "--config")])
def test_an_empty_config_file_is_an_error(tmp_path: Path, command: tuple[str, str]) -> None:
    cfg = write(tmp_path / "empty.yaml", "")
    assert_one_error((*command, str(cfg)), str(cfg), "empty")


def test_a_boolean_where_an_integer_is_expected_is_an_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "bool.yaml", "candidate: {preset: demo, dsl: {switch_depth: true}}\n")
    assert_one_error(("cost", "--config", str(cfg)), "key 'candidate.dsl.switch_depth'", "boolean")
    with pytest.raises(ValueError, match="boolean"):
        DSLConfig(segment_frames=True)


# -- tracebacks instead of one line ---------------------------------------------------------------------------

BINARY = bytes(range(256))          # not UTF-8 (and NUL bytes)
LATIN1 = "alpha: 1e-4  # café\n".encode("latin-1")


@pytest.mark.parametrize("payload", [BINARY, LATIN1], ids=["binary", "latin1"])
@pytest.mark.parametrize("option", ["cost --config", "cost --profile", "describe --config", "train --config", "search --space"])
def test_a_binary_or_non_utf8_file_is_one_error_line(tmp_path: Path, payload: bytes, option: str) -> None:
    bad = write(tmp_path / "bad.yaml", payload)
    command, flag = option.split()
    extra = ("--preset", "demo") if flag == "--profile" else ()
    assert_one_error((command, *extra, flag, str(bad)), str(bad))


def save_payload(path: Path, **changes: object) -> Path:
    payload = {"format": FORMAT, "run": RunConfig().model_dump(mode="json"), "model": {"w": torch.zeros(1)}, "step": 0}
    payload.update(changes)
    for key in [k for k, v in payload.items() if v is ...]:
        del payload[key]
    torch.save(payload, path)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": ...}, "no model weights"),
        ({"model": {}}, "empty state dict"),
        ({"model": {"w": [1, 2]}}, "not a state dict"),
        ({"step": "ten"}, "'step' must be a non-negative integer, got 'ten'"),
        ({"step": 2.5}, "'step' must be a non-negative integer"),
        ({"run": ...}, "no 'run' config"),
    ],
)
def test_a_malformed_checkpoint_is_one_error_line(tmp_path: Path, changes: dict, message: str) -> None:
    ckpt = save_payload(tmp_path / "checkpoint.pt", **changes)
    with pytest.raises(UserError, match=message):
        load_checkpoint(ckpt)
    assert_one_error(("evaluate", "--checkpoint", str(ckpt)), str(ckpt), message)


def test_a_checkpoint_whose_weights_do_not_fit_its_candidate(tmp_path: Path) -> None:
    ckpt = save_payload(tmp_path / "checkpoint.pt")  # one tensor 'w': not the codec's
    assert_one_error(("evaluate", "--checkpoint", str(ckpt)), str(ckpt), "does not fit")


def test_report_out_on_a_read_only_place(read_only_place: Path) -> None:
    assert_one_error(("report", "--study", "demo", "--out", str(read_only_place / "report")), "report folder", "not writable")


def test_report_out_under_a_file(under_a_file: Path) -> None:
    assert_one_error(("report", "--study", "demo", "--out", str(under_a_file)), "report folder", "cannot be created")


def test_export_out_pointing_at_a_folder(tmp_path: Path) -> None:
    assert_one_error(("export", "--study", "demo", "--trial", "0", "--out", str(tmp_path)), str(tmp_path), "is a folder")


def test_export_out_on_a_read_only_place(read_only_place: Path) -> None:
    assert_one_error(("export", "--study", "demo", "--trial", "0", "--out", str(read_only_place / "chosen.yaml")),
                     "not writable")


def test_a_journal_on_a_read_only_place(read_only_place: Path, under_a_file: Path) -> None:
    for place in (read_only_place, under_a_file):
        with pytest.raises(UserError, match="journal folder"):
            open_storage(str(place / "optuna.log"), "demo")


def test_yaml_writes_are_atomic_and_refuse_folders(tmp_path: Path, under_a_file: Path) -> None:
    run = RunConfig()
    with pytest.raises(UserError, match="is a folder"):
        dump_model(run, tmp_path)
    with pytest.raises(UserError, match="cannot be created"):
        dump_model(run, under_a_file / "run.yaml")
    target = tmp_path / "out" / "run.yaml"
    dump_model(run, target)
    assert files_under(tmp_path / "out") == [target]  # no temporary file left beside it
    assert load_model(RunConfig, target) == run


def test_trials_help_says_the_total() -> None:
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert result.exit_code == 0 and "total" in result.output


def test_light_bank_out_a_folder_fails_before_distilling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dslnas.trainers.light_bank as light_bank

    def distil(*_: object, **__: object) -> None:
        raise AssertionError("distilled before checking --out")

    monkeypatch.setattr(light_bank, "distil_bank", distil)
    base = write(tmp_path / "base.pt", b"not read before the check")
    assert_one_error(("light-bank", "--base", str(base), "--out", str(tmp_path)), "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base.pt"]  # no out.tmp left


@pytest.mark.parametrize("place", ["read_only_place", "under_a_file"])
def test_calibrate_out_unwritable_fails_before_measuring(place: str, request: pytest.FixtureRequest,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import dslnas.search.cli.calibrate as calibrate_cli

    def measure(*_: object, **__: object) -> None:
        raise AssertionError("measured before checking --out")

    monkeypatch.setattr(calibrate_cli, "_run", measure)
    out = request.getfixturevalue(place) / "profile.yaml"
    assert_one_error(("calibrate", "--runner", "local", "--out", str(out)), "--out folder")


ALIAS_BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]) + "\n"


def test_an_alias_bomb_yaml_is_one_error_line_at_once(tmp_path: Path) -> None:
    bomb = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 600
    started = time.monotonic()
    assert_one_error(("describe", "--config", str(bomb)), "expands to more than")
    assert time.monotonic() - started < 30


def test_a_missing_s3_bucket_fails_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config = SearchConfig(study="s3", space=demo_space(), runs_root=str(tmp_path / "runs"),
                          artifact_store="s3://no-such-bucket/studies")
    with moto.mock_aws():
        with pytest.raises(UserError, match="bucket 'no-such-bucket' cannot be used"):
            preflight(config)
        boto3.client("s3").create_bucket(Bucket="no-such-bucket")
        preflight(config)  # the bucket exists now


def test_stream_out_a_folder_or_unwritable_fails_before_the_encode(tmp_path: Path, read_only_place: Path) -> None:
    audio = write(tmp_path / "in.wav", b"never read")
    missing = str(tmp_path / "no-such.pt")  # the check comes first: the checkpoint is not even opened
    assert_one_error(("stream", "--audio", str(audio), "--out", str(tmp_path), "--checkpoint", missing), "is a folder")
    assert_one_error(("stream", "--audio", str(audio), "--out", str(read_only_place / "x.wav"), "--checkpoint", missing),
                     "--out folder")


def test_confirm_exits_non_zero_when_nothing_was_measured(tmp_path: Path) -> None:
    from study_fixtures import build_demo_study

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(storage)
    result = CliRunner().invoke(cli, ["confirm", "--study", "demo-report", "--storage", storage, "--top-k", "1",
                                      "--runner", "command", "--command", "sh -c 'exit 3'",
                                      "--work-dir", str(tmp_path / "work")])
    assert result.exit_code == 1, result.output
    assert [ln for ln in result.stderr.splitlines() if ln.startswith("error:")] == [
        "error: nothing was measured on runner 'command' (every run failed; each reason is stored with its trial)"]


def test_confirm_work_dir_read_only_fails_before_converting(tmp_path: Path, read_only_place: Path) -> None:
    from study_fixtures import build_demo_study

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    build_demo_study(storage)
    assert_one_error(("confirm", "--study", "demo-report", "--storage", storage, "--top-k", "1", "--runner", "local",
                      "--work-dir", str(read_only_place / "work")), "--work-dir", "not writable")


def test_confirm_audio_must_be_named_and_study_audio_needs_a_study(tmp_path: Path) -> None:
    assert_one_error(("confirm", "--study", "s", "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--audio", "rain"),
                     "--audio", "'rain' is not one of demo, study")
    assert_one_error(("confirm", "--checkpoint", "pretrained:speech16k", "--audio", "study"),
                     "--audio study", "give --study")
