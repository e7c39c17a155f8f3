"""Calibrate the emulated pair profile (``hw_models/profiles/a32-m33-pair.yaml``) and print predicted vs measured.

    .venv/bin/python bench/pair_profile.py [--write] [--skip-zero]

``--skip-zero``: exports whose tails' first convs skip the mask's zeros; fits ``a32-m33-pair-skip.yaml``.

The tiny calibration suite (``calibration_suite(SUITE, 0, TINY_RANGES)``, fresh seeded weights), each
candidate's mask threshold raised to one of several sparsities, streamed over noise whose loudness alternates
per segment under the ``warm`` policy, routed at the median switch prediction;
``hw_models.pair_calibrate.fit_pair_profile`` fits each unit and the link on those runs. Then HELD-OUT
candidates (two widths x three mask sparsities, not in the suite) are run, and each run's mean latency,
energy and link bytes per segment are predicted by ``ProfileCostModel.predict_counts`` under the run's
measured routing and printed beside what the pair measured. Takes a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from dslnas.hw_models.c_export import export_c
from dslnas.hw_models.calibration_suite import TINY_RANGES, calibration_suite
from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.op_count import count_candidate
from dslnas.hw_models.pair_calibrate import PairSample, fit_pair_profile
from dslnas.hw_models.placement import measure_mask_sparsity, with_sparse_tail_inputs
from dslnas.hw_models.runners.pair import PairRunner
from dslnas.search.confirm import measured_routing
from dslnas.spaces.candidate import CandidateConfig, DSLConfig, EncoderArch
from dslnas.spaces.yaml_io import atomic_write_text
from dslnas.trainers.codec import build_codec

PROFILES = Path(__file__).resolve().parents[1] / "hw_models" / "profiles"
SEGMENTS = 10
SUITE = 16
MASK_THRESHOLDS = (0.0, 0.05, 0.2)


def candidate(channels: int, name: str) -> CandidateConfig:
    return CandidateConfig(name=name, encoder=EncoderArch(stem_channels=2, block_channels=(channels, channels),
                                                          block_strides=(2, 2), embedding_dim=4),
                           dsl=DSLConfig(switch_depth=1, light_widths=(2, 2), segment_frames=2))


def noise(cand: CandidateConfig, seed: int = 0) -> np.ndarray:
    """``[SEGMENTS, segment_samples]`` noise whose loudness alternates per segment (loud runs, quiet runs)."""
    gains = np.array([0.8, 0.6, 0.01, 0.02, 0.5, 0.7, 0.02, 0.9, 0.005, 0.01])[:SEGMENTS]
    return (np.random.default_rng(seed).standard_normal((SEGMENTS, cand.segment_samples)) * gains[:, None]).astype(np.float32)


def pair_run(cand: CandidateConfig, mask_threshold: float, work: Path, skip: bool):
    """(counts, routed run, mask sparsity, encoder) of one candidate on the pair."""
    torch.manual_seed(0)
    encoder = build_codec(cand).encoder.eval()
    with torch.no_grad():
        encoder.mask.threshold.fill_(mask_threshold)
        audio = torch.from_numpy(noise(cand).reshape(1, 1, -1))
        predicted = encoder.switch(encoder.mask(encoder.base(audio)))[0].numpy()
    sparsity = measure_mask_sparsity(encoder, audio)
    info = export_c(encoder, cand, work / f"{cand.name}-{mask_threshold:g}", float(np.median(predicted)),
                    state_policy="warm", skip_zero_inputs=skip)
    run = PairRunner().run_routed(info, noise(cand))
    counts = count_candidate(encoder)
    return with_sparse_tail_inputs(counts, sparsity) if skip else counts, counts, run, sparsity, encoder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write the fitted profile into {PROFILES}")
    parser.add_argument("--skip-zero", action="store_true", help="exports that skip the mask's zeros in the tails")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        suite = [pair_run(c, MASK_THRESHOLDS[i % len(MASK_THRESHOLDS)], Path(tmp), args.skip_zero)
                 for i, c in enumerate(calibration_suite(SUITE, 0, TINY_RANGES))]
        held_out = [pair_run(candidate(channels, f"pair{channels}"), threshold, Path(tmp), args.skip_zero)
                    for channels in (4, 8) for threshold in MASK_THRESHOLDS]
    profile = fit_pair_profile([PairSample(e.candidate.name, fit, r) for fit, _, r, _, e in suite],
                               skips_zero_inputs=args.skip_zero)
    print(profile.provenance.notes)
    model = ProfileCostModel(profile)
    runs = held_out
    print("candidate  sparsity  light  measured_ms  predicted_ms  err%  measured_uJ  predicted_uJ  link_B/seg(meas/pred)")
    for _, counts, run, sparsity, encoder in runs:
        cost = model.predict_counts(counts, measured_routing(run, encoder, sparsity))
        energy = run.extra["energy_uj_per_segment_mean"]
        link_pred = cost.link_bytes_per_s / counts.inferences_per_s
        print(f"{encoder.candidate.name:9s}  {sparsity:8.3f}  {run.light_usage:5.2f}  {run.mean_ms:11.4f}  "
              f"{cost.latency_ms.mixed:12.4f}  {100 * (cost.latency_ms.mixed / run.mean_ms - 1):+5.1f}  {energy:11.3f}  "
              f"{cost.energy_per_inference_uj.mixed:12.3f}  {run.extra['link_bytes_per_segment_mean']:.0f}/{link_pred:.0f}")
    if args.write:
        header = "# Written by `.venv/bin/python bench/pair_profile.py --write` (hw_models.pair_calibrate).\n"
        out = PROFILES / f"{profile.name}.yaml"
        atomic_write_text(out, header.replace("--write", "--write" + (" --skip-zero" if args.skip_zero else ""))
                          + profile_yaml(profile))
        print(f"wrote {out}")
    return 0


def profile_yaml(profile) -> str:
    import yaml

    return yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True), sort_keys=False)


if __name__ == "__main__":
    sys.exit(main())
