"""`dslnas describe` and `dslnas cost`: JSON contracts, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dslnas.search.cli import cost as cli_cost
from dslnas.search.config import DEFAULT_PROFILE
from dslnas.spaces.run_config import RunConfig
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.yaml_io import dump_model

PATHS = {"base", "full", "light", "switch", "mask"}


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    cli_cost.register(app)
    return app


def run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_describe_json_has_params_and_macs_per_path(app: typer.Typer) -> None:
    code, out, _ = run(app, "describe", "--preset", "paper", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["encoder_params"] == 73_136
    assert set(payload["paths"]) == PATHS
    assert payload["paths"]["full"]["params"] == 64_704 and payload["paths"]["full"]["macs_per_s"] == 5_376_000
    assert payload["paths"]["light"]["macs_per_s"] == 429_600


def test_describe_text_prints_a_table(app: typer.Typer) -> None:
    code, _, err = run(app, "describe", "--preset", "demo")
    assert code == 0 and "MMAC/s" in err and "light" in err


@pytest.mark.parametrize(("depth", "widths"), [(1, (8, 9, 9, 10)), (2, (9, 9, 10)), (3, (9, 10)), (4, (10,))])
def test_switch_depth_rederives_light_widths_aligned_to_the_output(depth: int, widths: tuple[int, ...]) -> None:
    moved = cli_cost.move_switch(candidate_preset("paper"), depth)
    assert moved.dsl.switch_depth == depth and moved.dsl.light_widths == widths


def test_describe_switch_depth_moves_the_cut(app: typer.Typer) -> None:
    code, out, _ = run(app, "describe", "--preset", "paper", "--switch-depth", "2", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["switch_depth"] == 2
    assert payload["encoder_params"] == 73_136  # moving the DSL does not change the encoder
    assert payload["paths"]["base"]["params"] + payload["paths"]["full"]["params"] == 73_136


def test_cost_json_contract_and_default_usage(app: typer.Typer) -> None:
    code, out, _ = run(app, "cost", "--preset", "paper", "--json")
    assert code == 0 and json.loads(out)["profile"] == DEFAULT_PROFILE  # the calibrated profile searches price on
    code, out, _ = run(app, "cost", "--preset", "paper", "--profile", "a32-paper", "--json")  # Table 1's reference
    payload = json.loads(out)
    assert code == 0 and payload["light_usage"] == 0.5 and payload["profile"] == "a32-paper"
    assert set(payload["latency_ms"]) == set(payload["power_mw"]) == {"full", "light", "mixed"}
    assert payload["latency_ms"]["full"] == pytest.approx(14.74, rel=0.02)
    assert {"latency_saving_pct", "power_saving_pct", "unsupported_ops"} <= set(payload)
    assert set(payload["paths"]) == PATHS and payload["unsupported_ops"] == []


def test_cost_reads_run_config_and_bare_candidate_yaml(app: typer.Typer, tmp_path: Path) -> None:
    run_yaml = tmp_path / "run.yaml"
    dump_model(RunConfig(candidate=candidate_preset("paper")), run_yaml)
    bare_yaml = tmp_path / "candidate.yaml"
    dump_model(candidate_preset("paper"), bare_yaml)
    results = [json.loads(run(app, "cost", "--config", str(p), "--light-usage", "0.8", "--profile", "a32-paper", "--json")[1])
               for p in (run_yaml, bare_yaml)]
    assert results[0]["latency_ms"] == results[1]["latency_ms"]
    assert results[0]["latency_saving_pct"] == pytest.approx(26.5, rel=0.02)


def test_cost_text_prints_a_table(app: typer.Typer) -> None:
    code, _, err = run(app, "cost", "--preset", "paper", "--profile", "a32-paper")
    assert code == 0 and "latency ms" in err and "power mW" in err
    payload = json.loads(run(app, "cost", "--preset", "paper", "--profile", "a32-paper", "--json")[1])
    latency = payload["latency_ms"]
    assert f"latency ms {latency['light']:.2f} {latency['full']:.2f} {latency['mixed']:.2f}" in " ".join(err.replace("│", " ").split())
    assert (f"flash {payload['flash_kib']['deployed']:.1f} KiB, RAM {payload['ram_kib']['deployed']:.1f} KiB (both tails deployed); "
            f"real-time factor {payload['real_time_factor']['mixed']:.3f}") in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cost", "--preset", "paper", "--light-usage", "1.5"), "light usage must be a fraction in [0, 1], got 1.5"),
        (("cost", "--preset", "paper", "--light-usage", "-0.1"), "got -0.1"),
        (("cost", "--preset", "nope"), "unknown candidate preset 'nope'"),
        (("cost", "--preset", "paper", "--profile", "nope"), "unknown device profile 'nope'"),
        (("cost", "--preset", "paper", "--profile", "missing.yaml"), "missing.yaml: config file not found"),
        (("describe",), "give exactly one of --preset NAME or --config FILE"),
        (("describe", "--preset", "paper", "--switch-depth", "9"), "--switch-depth must be in [1, 4]"),
        (("describe", "--config", "absent.yaml"), "absent.yaml: config file not found"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(app: typer.Typer, args: tuple[str, ...], message: str) -> None:
    code, out, err = run(app, *args)
    assert code == 2 and out == ""
    assert err.startswith("error:") and message in err


def test_bad_key_in_config_names_it(app: typer.Typer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("candidate:\n  dsl: {switch_deep: 2}\n")
    code, _, err = run(app, "cost", "--config", str(bad))
    assert code == 2 and "unknown key 'candidate.dsl.switch_deep'" in err


def test_placement_command_names_the_cheapest_placement() -> None:
    import json as _json

    from click.testing import CliRunner as _Runner

    from dslnas.search.cli import cli as _app

    result = _Runner().invoke(_app, ["placement", "--preset", "paper", "--light-usage", "0.8", "--mask-sparsity", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    payload = _json.loads(result.stdout)
    powers = [p["power_mw"]["mixed"] for p in payload["placements"]]
    assert payload["cheapest"] == payload["placements"][0]["placement"] and powers == sorted(powers)
    assert len(payload["placements"]) == 8  # 2 units, 3 stages
    bad = _Runner().invoke(_app, ["placement", "--preset", "paper", "--mask-sparsity", "2"])
    assert bad.exit_code == 2
