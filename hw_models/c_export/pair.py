"""The routed encoder split at the DSL across two bare-metal cores: two images from one ``dsl_model.c``.

* **front** (always-on Cortex-M33, Thumb-2, single-precision FPU): base, mask, switch, the light tail, and
  the mailbox encoder (``pair_baremetal.c`` with ``DSL_PAIR_ROLE=1``): a full segment's masked map (and,
  after a light run, the frames the warm policy replays) leaves in its sparse encoding;
* **full** (application Cortex-A32, ARM state, NEON/VFP): the mailbox decoder and the full tail
  (``DSL_PAIR_ROLE=2``); it is woken only for segments routed to it.

Both are built with Debian's ``arm-linux-gnueabihf-gcc`` bare metal (``-ffreestanding -nostdlib``: no
libc, no libgcc; the model carries its own ``expf``), the M33 with ``-mthumb -mcpu=cortex-m33``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dslnas.hw_models.c_export.export import CExportInfo
from dslnas.hw_models.c_export.program import PATH_FULL, PATH_LIGHT, CExportError
from dslnas.hw_models.c_export.toolchain import ARM_CC, ARM_CFLAGS, HOST_CFLAGS, build_baremetal_elf
from dslnas.hw_models.profile import CTarget

# A Cortex-M33 with its single-precision FPU, Thumb-2, bare metal (the always-on core).
CORTEX_M33_BAREMETAL = CTarget(compiler=ARM_CC, cpu_flags=("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard",
                                                           "-mfpu=fpv5-sp-d16"))
M33_CFLAGS = (*HOST_CFLAGS, *CORTEX_M33_BAREMETAL.cpu_flags)
ROLE_FRONT, ROLE_FULL = 1, 2
MAILBOX_HEADER_BYTES = 16  # resume, replay frames, floats, encoding: four uint32 (pair_baremetal.c)


@dataclass(frozen=True)
class PairImages:
    """The two ELF images of one split export: ``front`` (M33, Thumb) and ``full`` (A32, ARM state)."""

    front: Path
    full: Path


def check_splittable(info: CExportInfo) -> None:
    """A split needs a whole routed encoder: audio in, both tails (a CExportError otherwise)."""
    if info.sample_rate_hz is None or set(info.path_ids) != {PATH_FULL, PATH_LIGHT}:
        raise CExportError(f"{info.name}: a split across two cores needs a whole routed encoder with both tails "
                           f"(paths {list(info.path_ids)})")


def build_pair_images(info: CExportInfo, out_dir: str | Path | None = None) -> PairImages:
    """Cross-compile ``info``'s model twice: the front image for the M33, the full-tail image for the A32."""
    check_splittable(info)
    folder = Path(out_dir) if out_dir else info.source_path.parent
    images = PairImages(folder / "dsl_pair_front_m33.elf", folder / "dsl_pair_full_a32.elf")
    for flags, role, elf in ((M33_CFLAGS, ROLE_FRONT, images.front), (ARM_CFLAGS, ROLE_FULL, images.full)):
        build_baremetal_elf(info, flags, elf, ("pair_baremetal.c",), (f"-DDSL_PAIR_ROLE={role}",))
    return images


def build_m33_image(info: CExportInfo, out_path: str | Path | None = None) -> Path:
    """One whole program (any exported part) for the M33 alone, with the single-core harness ``dsl_bm_segment``."""
    return build_baremetal_elf(info, M33_CFLAGS, Path(out_path) if out_path else info.source_path.with_name("dsl_model_m33.elf"))
