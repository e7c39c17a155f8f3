"""Device profiles: calibrated cost coefficients for one device, in YAML.

A :class:`DeviceProfile` names one or more compute units. Each unit has latency coefficients per op type
(see :mod:`dslnas.hw_models.latency_model`) and power coefficients (see
:mod:`dslnas.hw_models.power_model`); a profile with several units may name the link between them
(see :mod:`dslnas.hw_models.placement`). Every profile says where its numbers came from
(``provenance``). Shipped profiles live in ``hw_models/profiles/<name>.yaml``; :func:`load_profile`
takes such a name or a path. Files may ``extends:`` another (see ``spaces.yaml_io``).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dslnas.spaces.errors import ConfigError
from dslnas.spaces.yaml_io import load_model

NonNeg = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class _Frozen(BaseModel):
    # allow_inf_nan: a coefficient of .inf / .nan would price every candidate as inf / nan: an error naming it
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class OpLatency(_Frozen):
    """Latency of one layer of this op type: ``ns_per_op * ops + ns_per_act_byte * act_bytes +
    ns_per_weight_byte * weight_bytes + us_per_layer * 1000`` nanoseconds per call.

    ``ops``: MACs for MAC op types (conv, linear), element operations for element-wise ones.
    """

    ns_per_op: NonNeg = 0.0
    ns_per_act_byte: NonNeg = 0.0
    ns_per_weight_byte: NonNeg = 0.0
    us_per_layer: NonNeg = 0.0


class PowerCoefficients(_Frozen):
    """``power_mw = static_mw + energy_per_inference_mj * inferences_per_s`` with
    ``energy = active_mw * latency + pj_per_op * ops + pj_per_act_byte * act_bytes + pj_per_weight_byte * weight_bytes``.
    """

    static_mw: NonNeg = 0.0
    active_mw: NonNeg = 0.0
    pj_per_op: NonNeg = 0.0
    pj_per_act_byte: NonNeg = 0.0
    pj_per_weight_byte: NonNeg = 0.0


_C_COMPILER = r"^[A-Za-z0-9_./+][A-Za-z0-9_.+/-]*$"
_C_FLAG = r"^-[A-Za-z0-9_.+=,/-]+$"  # one word a Makefile or a shell reads as itself: no quotes, no $, no spaces


class CTarget(_Frozen):
    """How a unit's C is built: the (cross) compiler and the target flags it needs. The one place for them:
    ``export --format c``'s Makefile and the emulated board's build read them here."""

    compiler: Annotated[str, Field(pattern=_C_COMPILER)]
    cpu_flags: tuple[Annotated[str, Field(pattern=_C_FLAG)], ...] = ()


# A Cortex-A32 (ARMv8-A AArch32, NEON/FP-ARMv8, hard float, ARM state) running Linux, Debian's cross compiler.
CORTEX_A32_LINUX = CTarget(compiler="arm-linux-gnueabihf-gcc",
                           cpu_flags=("-mcpu=cortex-a32", "-mfpu=neon-fp-armv8", "-mfloat-abi=hard", "-marm"))


class ComputeUnit(_Frozen):
    """One core (or accelerator): its latency coefficients per op type and its power."""

    description: str = ""
    clock_mhz: Positive | None = None
    latency: dict[str, OpLatency]
    power: PowerCoefficients
    # The runtime skips zero inputs in each tail's first conv (the C export's skip_zero_inputs): the mask's
    # sparsity, which alpha buys, then cuts latency and energy. False: alpha buys nothing on this unit.
    skips_zero_inputs: bool = False
    # The residual VQ runs on this unit (the encoder sends codes, not embeddings): its codeword search and
    # codebooks are priced with the unit's ``linear`` coefficients. False: the quantizer runs elsewhere.
    runs_quantizer: bool = False
    # how `export --format c` builds for this unit (None: no target known, the build file uses the host's cc)
    c_target: CTarget | None = None
    # Waking this unit from its sleep state for a segment whose tail it runs away from the front (it sleeps
    # between such segments): latency and dynamic energy per wake-up. 0: no wake-up priced (always awake).
    wake_ms: NonNeg = 0.0
    wake_uj: NonNeg = 0.0

    def require_ops(self, op_types: Iterable[str], where: str) -> None:
        """Raise ConfigError naming the first op type this unit has no latency coefficients for."""
        missing = sorted(set(op_types) - set(self.latency))
        if missing:
            raise ConfigError(
                f"{where} has no latency coefficients for op type '{missing[0]}' "
                f"(missing: {', '.join(missing)}; has: {', '.join(sorted(self.latency))})"
            )


class LinkSpec(_Frozen):
    """The interconnect between compute units: per message ``per_transfer_ms`` per transfer, ``bytes / bandwidth``
    and ``per_value_ms`` per value of the map it encodes; energy ``pj_per_byte`` per byte plus ``busy_mw`` over
    that time."""

    description: str = ""
    bandwidth_bytes_per_s: Positive
    per_transfer_ms: NonNeg = 0.0
    pj_per_byte: NonNeg = 0.0
    # ms per value of the masked map (and replayed frames) a message carries, zeros included: the sender scans
    # every value to encode it sparse, the receiver writes every value back, whatever the bytes sent
    per_value_ms: NonNeg = 0.0
    # mW the cores draw while the link's time runs (encoding, decoding); 0: the link's time costs no core energy
    busy_mw: NonNeg = 0.0
    # fixed bytes each message to the tail's unit carries beside the masked map (a mailbox header)
    header_bytes: Annotated[int, Field(ge=0)] = 0


class Provenance(_Frozen):
    """Where a profile's numbers came from, and how well they fit the measurements."""

    device: str
    date: str
    runner: str
    n_samples: Annotated[int, Field(ge=0)]
    fit_mape_pct: NonNeg | None = None
    fit_within_10pct_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # k-fold cross-validation by held-out candidate (``dslnas calibrate``); None when not cross-validated
    cv_folds: Annotated[int, Field(ge=2)] | None = None
    cv_mape_pct: NonNeg | None = None
    cv_within_5pct_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    cv_within_10pct_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # what a proxy measurement assumed (the emulated core: latency = instructions x CPI / clock); None: measured
    clock_mhz: Positive | None = None
    cycles_per_instruction: Positive | None = None
    suite: str = ""  # the calibration suite: ranges, size, seed
    notes: str = ""


class PinnedPlacement(_Frozen):
    """The units a deployment runs the front (base + mask + switch), the light tail and the full tail on."""

    front: str
    light: str
    full: str


class DeviceProfile(_Frozen):
    """A calibrated device: named compute units (the ``default_unit`` runs a whole encoder) and a link.

    ``placement``: a multi-unit deployment whose parts sit on fixed units (e.g. the front on the always-on
    core that hears the audio); None: every placement is priced and the cheapest is taken."""

    name: str
    description: str = ""
    provenance: Provenance
    default_unit: str
    units: dict[str, ComputeUnit]
    link: LinkSpec | None = None
    placement: PinnedPlacement | None = None

    @model_validator(mode="after")
    def _check(self) -> "DeviceProfile":
        if self.default_unit not in self.units:
            raise ValueError(f"default_unit '{self.default_unit}' is not one of units ({', '.join(self.units)})")
        unknown = [u for u in (self.placement.model_dump().values() if self.placement else ()) if u not in self.units]
        if unknown:
            raise ValueError(f"placement names unit '{unknown[0]}', not one of units ({', '.join(self.units)})")
        return self

    def unit(self, name: str | None = None) -> ComputeUnit:
        """The unit called ``name`` (default: ``default_unit``); an unknown name is a ConfigError."""
        key = self.default_unit if name is None else name
        if key not in self.units:
            raise ConfigError(f"profile '{self.name}' has no compute unit '{key}'; units: {', '.join(sorted(self.units))}")
        return self.units[key]


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped in ``hw_models/profiles``."""
    folder = resources.files("dslnas.hw_models") / "profiles"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A shipped profile by name (``"a32-paper"``) or a profile YAML by path.

    A missing or malformed file, an unknown key or an unknown name is a one-line ConfigError naming it.
    """
    text = str(name_or_path)
    if text in shipped_profiles():
        with resources.as_file(resources.files("dslnas.hw_models") / "profiles" / f"{text}.yaml") as path:
            return load_model(DeviceProfile, path)
    if isinstance(name_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        return load_model(DeviceProfile, Path(text))
    raise ConfigError(f"unknown device profile '{text}'; shipped: {', '.join(shipped_profiles())} (or give a YAML path)")
