"""One routed stream on the emulated pair: both images loaded, a segment at a time (``runners.pair``).

The M33 runs ``dsl_pair_front``; a light segment continues there (``dsl_pair_light``), a full one is encoded
into the M33's mailbox (``dsl_pair_send``), whose bytes are copied into the A32's mailbox (shared SRAM in
silicon), then the woken A32 decodes it (``dsl_pair_receive``) and runs the full tail (``dsl_pair_full``).
With cycle models (one per core), each part's cycles are estimated beside its instructions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dslnas.hw_models.c_export.program import CExportError
from dslnas.hw_models.runners.pair_segment import PairSegment
from dslnas.hw_models.runners.pair_board import EmulatedM33, load_thumb_image, read_floats, read_u32
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT

if TYPE_CHECKING:
    from dslnas.hw_models.runners.cycle_model import CycleModel


_PART_OF_STEP = {"send": "encode", "receive": "decode"}  # a C step -> the part it is reported as


class PairStream:
    """Both cores freshly loaded and initialised for ``info`` (a ``c_export.CExportInfo``); ``m33_cycles`` and
    ``a32_cycles``: each core's cycle model (both or neither; None: instructions only)."""

    def __init__(self, info, timeout_s: float = 600.0, m33_cycles: "CycleModel | None" = None,
                 a32_cycles: "CycleModel | None" = None) -> None:
        from dslnas.hw_models.c_export.pair import build_pair_images
        from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore, load_image

        if (m33_cycles is None) != (a32_cycles is None):
            raise CExportError("the pair estimates cycles on both cores or on neither")
        images = build_pair_images(info)
        self.info, self.timed = info, m33_cycles is not None
        self.m33 = EmulatedM33(load_thumb_image(images.front), timeout_s, m33_cycles)
        self.a32 = EmulatedArmCore(load_image(images.full), info.in_floats, (info.out_channels, info.out_frames),
                                   timeout_s, cycle_model=a32_cycles)
        self.m33.call("dsl_bm_init")
        self.a32.init()
        self._a32_symbols = self.a32.image.symbols
        if "dsl_pair_mailbox" not in self._a32_symbols:
            raise CExportError(f"{images.full} lacks dsl_pair_mailbox (not built with DSL_PAIR_ROLE=2)")

    def segment(self, pcm: np.ndarray) -> PairSegment:
        """Route one segment ``[in_floats]`` across the pair; the embedding comes from whichever core ran the tail."""
        m_sym, out_floats = self.m33.image.symbols, self.info.out_floats
        self.m33.uc.mem_write(m_sym["dsl_io_in"], np.ascontiguousarray(pcm, dtype="<f4").tobytes())
        cycles: dict[str, float] = {}
        path, front = self._on_m33("front", cycles, 0)
        predicted = float(read_floats(self.m33.uc, m_sym["dsl_io_predicted"], 1)[0])
        if path == PATH_LIGHT:
            _, light = self._on_m33("light", cycles)
            out = read_floats(self.m33.uc, m_sym["dsl_io_out"], out_floats)
            return PairSegment(path, {"front": front, "light": light}, 0, 0, out.reshape(self._shape), predicted, cycles)
        if path != PATH_FULL:
            raise CExportError(f"the front core chose path {path}")
        sent, encode = self._on_m33("send", cycles)
        if sent != read_u32(self.m33.uc, m_sym["dsl_pair_mailbox_bytes"]) or sent <= 0:
            raise CExportError(f"the mailbox holds {sent} bytes")
        box = bytes(self.m33.uc.mem_read(m_sym["dsl_pair_mailbox"], sent))
        uc_a = self.a32._uc  # the A32 board's emulator: the mailbox is shared SRAM on silicon
        uc_a.mem_write(self._a32_symbols["dsl_pair_mailbox"], box)
        _, decode = self._on_a32("receive", cycles)
        _, full = self._on_a32("full", cycles)
        out = read_floats(uc_a, self._a32_symbols["dsl_io_out"], out_floats)
        counts = {"front": front, "encode": encode, "decode": decode, "full": full}
        floats = int.from_bytes(box[8:12], "little")  # header word 2: values encoded (pair_baremetal.c)
        return PairSegment(path, counts, sent, 4 * out_floats, out.reshape(self._shape), predicted, cycles, floats)

    def _on_m33(self, step: str, cycles: dict[str, float], r0: int = 0) -> tuple[int, int]:
        """``dsl_pair_<step>`` on the M33; its cycles go into ``cycles`` under the part's name."""
        result = self.m33.call(f"dsl_pair_{step}", r0)
        if self.timed:
            cycles[_PART_OF_STEP.get(step, step)] = float(self.m33.last_cycles)
        return result

    def _on_a32(self, step: str, cycles: dict[str, float]) -> tuple[int, int]:
        result = self.a32.call(f"dsl_pair_{step}")
        if self.timed:
            cycles[_PART_OF_STEP.get(step, step)] = float(self.a32.last_cycles)
        return result

    @property
    def _shape(self) -> tuple[int, int]:
        return self.info.out_channels, self.info.out_frames
