"""Calibrate the emulated pair profile (``hw_models/profiles/a32-m33-pair.yaml``) and print predicted vs measured.

    .venv/bin/python bench/pair_profile.py [--write] [--skip-zero] [--suite tiny|demo]

``--skip-zero``: exports whose tails' first convs skip the mask's zeros; fits ``a32-m33-pair-skip.yaml``.
``--suite demo`` (what the shipped profiles are fitted on): candidates of the pair demo space's sizes
(``pair_suite.PairSuite.DEMO``, ~5 min of emulation on one core); ``tiny`` (default): the tiny suite.

The runs of ``hw_models.pair_suite`` (the suite on the pair, cycles on LLVM's models, ELU
shares measured on each run's audio); ``hw_models.pair_calibrate.fit_pair_profile`` fits each unit and the
link on them. Then the HELD-OUT candidates are run, and each run's mean latency,
energy and link bytes per segment are predicted by ``ProfileCostModel.predict_counts`` under the run's
measured routing and printed beside what the pair measured. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.pair_calibrate import fit_pair_profile
from dslnas.hw_models.pair_suite import PairSuite, held_out_runs, suite_runs
from dslnas.hw_models.runners.pair import PairRunner
from dslnas.search.confirm import measured_routing
from dslnas.spaces.yaml_io import atomic_write_text

PROFILES = Path(__file__).resolve().parents[1] / "hw_models" / "profiles"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the fitted profile into {PROFILES}")
    parser.add_argument("--skip-zero", action="store_true", help="exports that skip the mask's zeros in the tails")
    parser.add_argument("--suite", default=PairSuite.TINY.value, choices=[k.value for k in PairSuite],
                        help="the candidates: tiny (quick) or demo (the pair demo space's sizes)")
    args = parser.parse_args(argv)
    runner, kind = PairRunner(), PairSuite(args.suite)  # one runner: its cycle models' caches serve every run
    with tempfile.TemporaryDirectory() as tmp:
        suite = suite_runs(Path(tmp), args.skip_zero, runner, kind)
        held_out = held_out_runs(Path(tmp), args.skip_zero, runner, kind)
    profile = fit_pair_profile([r.sample for r in suite], skips_zero_inputs=args.skip_zero, suite=kind.value)
    print(profile.provenance.notes)
    print_held_out(profile, held_out)
    if args.write:
        header = "# Written by `.venv/bin/python bench/pair_profile.py --write` (hw_models.pair_calibrate).\n"
        out = PROFILES / f"{profile.name}.yaml"
        flags = (" --skip-zero" if args.skip_zero else "") + f" --suite {kind.value}"
        atomic_write_text(out, header.replace("--write", "--write" + flags)
                          + profile_yaml(profile))
        print(f"wrote {out}")
    return 0


def print_held_out(profile, runs) -> None:
    """Each held-out run's mean latency, energy and link bytes per segment: measured vs priced under its routing."""
    model = ProfileCostModel(profile)
    print("candidate  sparsity  light  measured_ms  predicted_ms  err%  measured_uJ  predicted_uJ  link_B/seg(meas/pred)")
    for r in runs:
        cost = model.predict_counts(r.counts, measured_routing(r.run, r.encoder, r.sparsity))
        energy, counts = r.run.extra["energy_uj_per_segment_mean"], r.counts
        link_pred = cost.link_bytes_per_s / counts.inferences_per_s
        print(f"{r.encoder.candidate.name:9s}  {r.sparsity:8.3f}  {r.run.light_usage:5.2f}  {r.run.mean_ms:11.4f}  "
              f"{cost.latency_ms.mixed:12.4f}  {100 * (cost.latency_ms.mixed / r.run.mean_ms - 1):+5.1f}  {energy:11.3f}  "
              f"{cost.energy_per_inference_uj.mixed:12.3f}  {r.run.extra['link_bytes_per_segment_mean']:.0f}/{link_pred:.0f}")


def profile_yaml(profile) -> str:
    import yaml

    return yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True), sort_keys=False)


if __name__ == "__main__":
    sys.exit(main())
