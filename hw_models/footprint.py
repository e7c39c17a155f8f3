"""What a deployed encoder occupies, and how a profile came to be: memory per pass and provenance text.

Memory is fp32 (the portable C export's arithmetic): flash holds weights, RAM holds the largest single
layer's activations (read + written) plus the causal history every streamed conv keeps between segments.
The deployed DSL holds both tails: its flash is every part's weights, its RAM every part's history plus
the larger pass's peak activations. (The C export reports its own exact figures in its header.)
"""

from __future__ import annotations

from dslnas.hw_models.counts import FRONT_PARTS, TAIL_PARTS, EncoderCounts, Part
from dslnas.hw_models.profile import DeviceProfile

KIB = 1024.0


def flash_kib(counts: EncoderCounts) -> tuple[float, float, float]:
    """(full pass, light pass, deployed) weight KiB."""
    front = sum(counts.weight_bytes(p) for p in FRONT_PARTS)
    full, light = front + counts.weight_bytes(Part.FULL_TAIL), front + counts.weight_bytes(Part.LIGHT_TAIL)
    return full / KIB, light / KIB, (full + counts.weight_bytes(Part.LIGHT_TAIL)) / KIB


def ram_kib(counts: EncoderCounts) -> tuple[float, float, float]:
    """(full pass, light pass, deployed) KiB of peak activations plus streaming state."""
    state = counts.state_bytes
    front_peak = max(counts.peak_activation_bytes(p) for p in FRONT_PARTS)
    peak = {t: max(front_peak, counts.peak_activation_bytes(t)) for t in TAIL_PARTS}
    front_state = sum(state.get(p, 0) for p in FRONT_PARTS)
    full_state, light_state = state.get(Part.FULL_TAIL, 0), state.get(Part.LIGHT_TAIL, 0)
    full = peak[Part.FULL_TAIL] + front_state + full_state
    light = peak[Part.LIGHT_TAIL] + front_state + light_state
    deployed = max(peak.values()) + front_state + full_state + light_state
    return full / KIB, light / KIB, deployed / KIB


def provenance_text(profile: DeviceProfile) -> str:
    """One line saying how the profile's numbers were made (every cost output carries it)."""
    prov = profile.provenance
    if prov.runner == "paper-table-1":
        return "solved from the paper's Table 1: reproduces it by construction, predicts nothing else"
    if prov.runner == "hand-written":
        return f"ILLUSTRATIVE, not measured ({prov.device})"
    text = f"calibrated on runner '{prov.runner}' ({prov.device})"
    if prov.cv_mape_pct is not None:
        text += f", {prov.cv_folds}-fold CV by candidate: MAPE {prov.cv_mape_pct:.1f}%"
    if prov.clock_mhz is not None and prov.cycles_per_instruction is not None:
        text += f"; assumes {prov.clock_mhz:g} MHz at {prov.cycles_per_instruction:g} cycles per instruction"
    if any(unit.skips_zero_inputs for unit in profile.units.values()):
        text += "; zero inputs skipped in the tails' first convs, priced as their MACs cut by the mask's sparsity"
    return text
