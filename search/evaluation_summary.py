"""What ``dslnas evaluate --json`` prints: the streaming evaluation, each sweep point priced on a profile.

Every figure comes from the streaming run (one tail per segment, the candidate's state policy), priced under
that run's routing (light usage, mask sparsity, warm replays; the cheapest placement on a multi-unit profile)
by the one method every caller uses (``ProfileCostModel.predict_counts``); the offline figures stay as a labelled diagnostic (``diagnostic_offline_embedding_l1``). The oracle's share
is the learned switch's latency saving at the evaluated threshold as a fraction of the oracle router's at
equal mixed ViSQOL (``trainers.oracle``). ``at_equal_quality`` is the sweep point that routes the most
light while its mixed ViSQOL stays within 0.05 of full, with its light usage per class (the paper's
operating point: 80% of silence and 30% of speech light at no loss).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dslnas.hw_models.cost import ProfileCostModel
from dslnas.hw_models.counts import Part
from dslnas.hw_models.profile import load_profile
from dslnas.hw_models.routing import Pass, PassFigures, RoutingSummary
from dslnas.search.points import latency_of_usage, priced_sweep
from dslnas.spaces.candidate import CandidateConfig
from dslnas.trainers.oracle import compare_to_oracle

if TYPE_CHECKING:
    from dslnas.trainers.evaluate import EvaluationResult


def evaluation_summary(result: "EvaluationResult", candidate: CandidateConfig, profile: str,
                       elu_negative_shares: Mapping[Part, Sequence[float]] | None = None) -> dict[str, Any]:
    """The JSON shape of one evaluation (see the module docstring); latency and power on ``profile``, each ELU
    priced at ``elu_negative_shares`` (measured on the evaluated clips; None: the assumed share, said so)."""
    overall = result.overall
    price = ProfileCostModel(load_profile(profile)).pricer(candidate, elu_negative_shares)
    cost = price(RoutingSummary.from_stream(overall, overall.sparsity))
    sweep, _ = priced_sweep(result.sweep, price, overall.sparsity)
    oracle, _ = priced_sweep(result.oracle_sweep, price, overall.sparsity)
    here = compare_to_oracle([_Point(overall.light_usage, overall.visqol_mixed)], oracle,
                             latency_of_usage(price, overall.sparsity))[0] if oracle else None
    visqol = PassFigures(overall.visqol_full, overall.visqol_light, overall.visqol_mixed)
    return {
        "execution": result.execution.value,
        "state_policy": result.state_policy.value,
        "threshold": result.threshold,
        "profile": profile,
        "placement": cost.placement,
        "elu_negative_shares": cost.elu_share_note,
        "paths": {
            p.value: {"visqol": visqol.of(p), "latency_ms": cost.latency_ms.of(p), "power_mw": cost.power_mw.of(p)}
            for p in (Pass.FULL, Pass.LIGHT, Pass.MIXED)
        },
        "light_usage": overall.light_usage,
        "light_usage_per_class": {k: g.light_usage for k, g in result.per_class.items()},
        "visqol_per_class": {k: PassFigures(g.visqol_full, g.visqol_light, g.visqol_mixed).to_json()
                             for k, g in result.per_class.items()},
        "transitions_per_s": overall.transitions_per_s,
        "mask_sparsity": overall.sparsity,
        "switch_spearman": overall.switch_spearman,
        "switch_mae": overall.switch_mae,
        "sweep": [_point_json(p) for p in sweep],
        "oracle": _oracle_json(here, oracle),
        "at_equal_quality": _equal_quality_json(result),
        "clips": len(result.clips),
        "diagnostic_offline_embedding_l1": getattr(overall, "offline_embedding_l1", None),
    }


def _oracle_json(here: Any, oracle: list) -> dict[str, Any]:
    """The oracle router's sweep and how much of its saving the switch reaches at equal ViSQOL (None: no oracle)."""
    fraction = here.saving_fraction if here is not None else math.nan
    return {
        "saving_fraction": None if not math.isfinite(fraction) else fraction,
        "oracle_light_usage_at_equal_visqol": None if here is None or math.isnan(here.oracle_light_usage) else here.oracle_light_usage,
        "sweep": [_point_json(p) for p in oracle],
    }


def _equal_quality_json(result: "EvaluationResult") -> dict[str, Any] | None:
    """The sweep point routing the most light within ``EQUAL_QUALITY_TOLERANCE`` ViSQOL of full (per class too)."""
    from dslnas.trainers.evaluate import EQUAL_QUALITY_TOLERANCE, most_light_at_equal_quality

    point = most_light_at_equal_quality(result)
    if point is None:
        return None
    return {"tolerance": EQUAL_QUALITY_TOLERANCE, "threshold": point.threshold, "visqol_mixed": point.visqol_mixed,
            "light_usage": point.light_usage, "light_usage_per_class": point.light_usage_per_class}


@dataclass(frozen=True)
class _Point:
    """The evaluated operating point, as ``trainers.oracle`` reads a curve point."""

    light_usage: float
    visqol_mixed: float


def _point_json(p: Any) -> dict[str, float]:
    return {"threshold": p.threshold, "light_usage": p.light_usage, "visqol_mixed": p.visqol_mixed,
            "latency_ms": p.latency_ms, "power_mw": p.power_mw, "transitions_per_s": p.transitions_per_s}
