"""Predict the DSL paper's Table 1 (A32 latency) from the profile calibrated on the emulated Cortex-A32.

The profile is fitted on cycles (LLVM's Cortex-R52 scheduling model per executed block). One scale factor
makes the `paper` preset's predicted full pass 14.74 ms; the light pass (paper 9.86 ms) and
the mixed figures at 30 % / 80 % light usage (13.27 / 10.84 ms) are then predictions, printed with their
errors beside those of the instruction-counted profile it replaced (CPI 1) and the solved `a32-paper` profile (which reproduces Table 1 by construction, so predicts nothing).
See `dslnas.hw_models.table1` for why the light pass comes out high.

Run: .venv/bin/python bench/table1_prediction.py [--profile a32-emulated | PATH.yaml]
"""

from __future__ import annotations

import argparse
import json

from dslnas.hw_models.table1 import DEFAULT_PROFILE, INSTRUCTION_ERRORS_PCT, predict_table1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="profile name or YAML (calibrated, not solved)")
    args = parser.parse_args()
    predicted = predict_table1(args.profile)
    solved = predict_table1("a32-paper")
    print(json.dumps({"prediction": predicted.to_json(),
                      "solved_from_table1_for_reference": {"profile": "a32-paper", "scale": solved.scale,
                                                           "rows": solved.to_json()["rows"]}}, indent=2))
    for row in predicted.rows:
        print(f"{row.name:>16}: predicted {row.predicted_ms:6.2f} ms, paper {row.paper_ms:5.2f} ms, "
              f"error {row.error_pct:+6.1f} % (instruction-counted profile, CPI 1: "
              f"{INSTRUCTION_ERRORS_PCT[row.key]:+.1f} %)")


if __name__ == "__main__":
    main()
