"""CLI commands for the hardware cost model: ``describe`` (op counts) and ``cost`` (latency and power).

Both take a candidate as ``--preset NAME`` or ``--config FILE`` (a RunConfig YAML with ``candidate:``, or a
bare CandidateConfig YAML) and may move its DSL with ``--switch-depth D`` (see :func:`move_switch`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

import typer

from dslnas.search.cli.common import JsonOpt, LightUsageOpt, console, fail, print_json
from dslnas.search.config import DEFAULT_PROFILE
from dslnas.spaces.errors import UserError

if TYPE_CHECKING:
    from rich.table import Table

    from dslnas.hw_models.cost import Cost
    from dslnas.hw_models.counts import EncoderCounts
    from dslnas.spaces.candidate import CandidateConfig

PlacementObjectiveName = Literal["power", "latency"]  # hw_models.placement.PlacementObjective values (a test checks)

DEFAULT_LIGHT_USAGE = 0.5  # halfway between the paper's speech (0.3) and silence (0.8) usage

PresetOpt = Annotated[Optional[str], typer.Option("--preset", help="Candidate preset: paper, demo.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="RunConfig YAML (candidate: ...) or bare CandidateConfig YAML.")]
DepthOpt = Annotated[Optional[int], typer.Option("--switch-depth", help="Move the DSL after this many blocks (light widths re-derived).")]


def move_switch(candidate: "CandidateConfig", depth: int) -> "CandidateConfig":
    """``candidate`` with its DSL after ``depth`` blocks and light widths re-derived for the new tail.

    Rule: the light widths stay aligned to the encoder's output end. The tail needs
    ``n_blocks - depth + 1`` widths; the last entries keep their values, extra leading entries repeat the
    first width (the new, earlier tail blocks run as narrow as the old entry), surplus leading entries are
    dropped; an entry wider than the full path there is narrowed to it (a light path is never wider than the
    full one). E.g. paper ``(9, 10)`` at depth 3 -> ``(9, 9, 10)`` at depth 2 -> ``(10,)`` at depth 4, and
    ``(8, 9, 9, 10)`` at depth 1 (the stem's first block outputs 8 channels).
    """
    n_blocks = candidate.encoder.n_blocks
    if not 1 <= depth <= n_blocks:
        raise UserError(f"--switch-depth must be in [1, {n_blocks}] for candidate '{candidate.name}', got {depth}")
    widths = candidate.dsl.light_widths
    needed = n_blocks - depth + 1
    resized = (widths[0],) * (needed - len(widths)) + widths if needed > len(widths) else widths[len(widths) - needed:]
    full = (candidate.encoder.channels_after(depth),) + tuple(candidate.encoder.block_channels[depth:])
    return candidate.with_dsl(switch_depth=depth, light_widths=tuple(map(min, resized, full)))


def load_candidate(preset: str | None, config: Path | None, switch_depth: int | None) -> "CandidateConfig":
    """The candidate named by exactly one of ``preset`` / ``config``, its DSL moved when asked."""
    from dslnas.spaces.footprint import check_buildable
    from dslnas.spaces.presets import candidate_preset

    if (preset is None) == (config is None):
        raise UserError("give exactly one of --preset NAME or --config FILE")
    candidate = candidate_preset(preset) if preset is not None else _candidate_from_file(config)
    check_buildable(candidate, f"--config {config}" if config is not None else f"--preset {preset}")  # before any torch allocation
    return candidate if switch_depth is None else move_switch(candidate, switch_depth)


def _candidate_from_file(path: Path) -> "CandidateConfig":
    from dslnas.spaces.candidate import CandidateConfig
    from dslnas.spaces.run_config import RunConfig
    from dslnas.spaces.yaml_io import read_yaml_mapping, validate

    data = read_yaml_mapping(path)
    if "candidate" in data:
        return validate(RunConfig, data, str(path)).candidate
    return validate(CandidateConfig, data, str(path))


def describe_command(preset: PresetOpt = None, config: ConfigOpt = None, switch_depth: DepthOpt = None,
                     json_out: JsonOpt = False) -> None:
    """Per-path parameters, MACs per second of audio and layers of a candidate's encoder."""
    from dslnas.hw_models.op_count import count_candidate

    try:
        candidate = load_candidate(preset, config, switch_depth)
        counts = count_candidate(candidate)
    except UserError as err:
        fail(str(err))
    if json_out:
        print_json({"candidate": candidate.name, "switch_depth": candidate.dsl.switch_depth, **counts.to_json()})
    else:
        console.print(_counts_table(candidate, counts))




def cost_command(
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: Annotated[str, typer.Option("--profile", help="Device profile: a shipped name or a YAML path.")] = DEFAULT_PROFILE,
    light_usage: LightUsageOpt = DEFAULT_LIGHT_USAGE,
    mask_sparsity: Annotated[float, typer.Option("--mask-sparsity", help="Share of zeros in the mask output (see `dslnas evaluate`), priced where the device skips zero inputs.")] = 0.0,
    full_replays: Annotated[float, typer.Option("--full-replays-per-s", help="Masked base frames per second the warm policy replays into the full tail (see `dslnas evaluate`).")] = 0.0,
    light_replays: Annotated[float, typer.Option("--light-replays-per-s", help="Masked base frames per second the warm policy replays into the light tail.")] = 0.0,
    switch_depth: DepthOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Latency and power of the full, light and mixed pass on a device profile (default light usage 0.5),
    with memory, real-time factor, the profile's provenance and error band, and whether alpha buys anything;
    on a multi-unit profile, at the cheapest placement (as a search prices it)."""
    from dslnas.hw_models.cost import ProfileCostModel
    from dslnas.hw_models.counts import Part
    from dslnas.hw_models.profile import load_profile
    from dslnas.hw_models.routing import Pass, RoutingSummary

    try:
        routing = RoutingSummary(light_usage, mask_sparsity, {Part.FULL_TAIL: full_replays, Part.LIGHT_TAIL: light_replays})
        candidate = load_candidate(preset, config, switch_depth)
        cost = ProfileCostModel(load_profile(profile)).predict(candidate, routing)
    except UserError as err:
        fail(str(err))
    assert cost.counts is not None  # predict keeps them
    if json_out:
        print_json({"candidate": candidate.name, **cost.to_json()})
    else:
        console.print(_cost_table(candidate, cost))
        console.print(_counts_table(candidate, cost.counts))
        payload = cost.to_json()
        band = f" (+-{cost.latency_error_pct:.1f}% cross-validated)" if cost.latency_error_pct is not None else " (no cross-validated error band)"
        console.print(f"profile {cost.profile}: {cost.provenance}{band}", highlight=False, markup=False)
        console.print(f"memory: flash {cost.flash_kib.of(Pass.DEPLOYED):.1f} KiB, RAM {cost.ram_kib.of(Pass.DEPLOYED):.1f} KiB "
                      f"(both tails deployed); real-time factor {cost.real_time_factor.of(Pass.MIXED):.3f}; alpha {payload['alpha']}",
                      highlight=False, markup=False)
        for entry in cost.to_json()["unsupported_ops"]:
            console.print(f"[yellow]warning:[/] unpriced op {entry['op']} in {entry['path']} ({entry['calls']} calls)")


def _counts_table(candidate: "CandidateConfig", counts: "EncoderCounts") -> "Table":
    from rich.table import Table

    from dslnas.hw_models.counts import PATHS

    table = Table(title=f"{candidate.name}: switch after block {candidate.dsl.switch_depth}, "
                        f"encoder {counts.encoder_params:,} params")
    for column in ("path", "params", "MMAC/s", "act MB/s", "layers"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name in PATHS:
        path = counts.paths[name]
        table.add_row(name.value, f"{path.params:,}", f"{path.macs_per_s / 1e6:.3f}", f"{path.act_bytes_per_s / 1e6:.2f}",
                      str(len(path.layers)))
    return table


def _cost_table(candidate: "CandidateConfig", cost: "Cost") -> "Table":
    from rich.table import Table

    from dslnas.hw_models.routing import Pass

    where = cost.placement or cost.unit
    table = Table(title=f"{candidate.name} on {cost.profile} ({where}), light usage {cost.light_usage:.0%}")
    passes = (Pass.LIGHT, Pass.FULL, Pass.MIXED)
    for column in ("", *(p.value for p in passes), "saving %"):
        table.add_column(column, justify="right")
    rows: list[tuple[str, Any, float]] = [("latency ms", cost.latency_ms, cost.latency_saving_pct),
                                          ("power mW", cost.power_mw, cost.power_saving_pct)]
    for label, figures, saving in rows:
        table.add_row(label, *(f"{figures.of(p):.2f}" for p in passes), f"{saving:.1f}")
    return table


def placement_command(
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    profile: Annotated[str, typer.Option("--profile", help="A profile naming several compute units and a link.")] = "a32-a55-hetero",
    light_usage: LightUsageOpt = DEFAULT_LIGHT_USAGE,
    mask_sparsity: Annotated[float, typer.Option("--mask-sparsity", help="Share of zeros in the mask output (cuts link bytes), 0..1; see `dslnas evaluate`.")] = 0.0,
    objective: Annotated[PlacementObjectiveName, typer.Option("--objective", help="Which mixed-pass figure ranks placements.")] = "power",
    switch_depth: DepthOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Price every placement of front (base + mask + switch), light and full path on the profile's units."""
    from rich.table import Table

    from dslnas.hw_models.op_count import count_candidate
    from dslnas.hw_models.placement import PlacementObjective, compare_placements
    from dslnas.hw_models.profile import load_profile
    from dslnas.hw_models.routing import RoutingSummary

    try:
        routing = RoutingSummary(light_usage, mask_sparsity)
        candidate = load_candidate(preset, config, switch_depth)
        report = compare_placements(count_candidate(candidate), load_profile(profile), routing, PlacementObjective(objective))
    except UserError as err:
        fail(str(err))
    if json_out:
        print_json({"candidate": candidate.name, **report.to_json()})
        return
    table = Table(title=f"{candidate.name} on {report.profile}: light usage {light_usage:.0%}, mask sparsity {mask_sparsity:.0%}")
    for column in ("placement", "latency ms", "power mW", "link bytes/inference"):
        table.add_column(column, justify="left" if column == "placement" else "right")
    for entry in report.placements:
        table.add_row(entry.placement.name, f"{entry.latency_ms.mixed:.2f}", f"{entry.power_mw.mixed:.2f}",
                      f"{entry.link_bytes_per_inference.mixed:,.0f}")
    console.print(table)
    console.print(f"cheapest by {objective}: {report.cheapest.placement.name}")
    console.print(f"profile {report.profile}: {report.provenance}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("describe")(describe_command)
    app.command("cost")(cost_command)
    app.command("placement")(placement_command)
