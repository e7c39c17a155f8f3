"""One routed stream on the emulated pair: both images loaded, a segment at a time (``runners.pair``).

The M33 runs ``dsl_pair_front``; a light segment continues there (``dsl_pair_light``), a full one is encoded
into the M33's mailbox (``dsl_pair_send``), whose bytes are copied into the A32's mailbox (shared SRAM in
silicon), then the woken A32 decodes it (``dsl_pair_receive``) and runs the full tail (``dsl_pair_full``).
"""

from __future__ import annotations

import numpy as np

from dslnas.hw_models.c_export.program import CExportError
from dslnas.hw_models.runners.pair_segment import PairSegment
from dslnas.hw_models.runners.pair_board import EmulatedM33, load_thumb_image, read_floats, read_u32
from dslnas.hw_models.runners.routed import PATH_FULL, PATH_LIGHT


class PairStream:
    """Both cores freshly loaded and initialised for ``info`` (a ``c_export.CExportInfo``)."""

    def __init__(self, info, timeout_s: float = 600.0) -> None:
        from dslnas.hw_models.c_export.pair import build_pair_images
        from dslnas.hw_models.runners.unicorn_board import EmulatedArmCore, load_image

        images = build_pair_images(info)
        self.info = info
        self.m33 = EmulatedM33(load_thumb_image(images.front), timeout_s)
        self.a32 = EmulatedArmCore(load_image(images.full), info.in_floats, (info.out_channels, info.out_frames),
                                   timeout_s)
        self.m33.call("dsl_bm_init")
        self.a32.init()
        self._a32_symbols = self.a32.image.symbols
        if "dsl_pair_mailbox" not in self._a32_symbols:
            raise CExportError(f"{images.full} lacks dsl_pair_mailbox (not built with DSL_PAIR_ROLE=2)")

    def segment(self, pcm: np.ndarray) -> PairSegment:
        """Route one segment ``[in_floats]`` across the pair; the embedding comes from whichever core ran the tail."""
        m_sym, out_floats = self.m33.image.symbols, self.info.out_floats
        self.m33.uc.mem_write(m_sym["dsl_io_in"], np.ascontiguousarray(pcm, dtype="<f4").tobytes())
        path, front = self.m33.call("dsl_pair_front", 0)
        predicted = float(read_floats(self.m33.uc, m_sym["dsl_io_predicted"], 1)[0])
        if path == PATH_LIGHT:
            _, light = self.m33.call("dsl_pair_light")
            out = read_floats(self.m33.uc, m_sym["dsl_io_out"], out_floats)
            return PairSegment(path, {"front": front, "light": light}, 0, 0, out.reshape(self._shape), predicted)
        if path != PATH_FULL:
            raise CExportError(f"the front core chose path {path}")
        sent, encode = self.m33.call("dsl_pair_send")
        if sent != read_u32(self.m33.uc, m_sym["dsl_pair_mailbox_bytes"]) or sent <= 0:
            raise CExportError(f"the mailbox holds {sent} bytes")
        box = bytes(self.m33.uc.mem_read(m_sym["dsl_pair_mailbox"], sent))
        uc_a = self.a32._uc  # the A32 board's emulator: the mailbox is shared SRAM on silicon
        uc_a.mem_write(self._a32_symbols["dsl_pair_mailbox"], box)
        _, decode = self.a32.call("dsl_pair_receive")
        _, full = self.a32.call("dsl_pair_full")
        out = read_floats(uc_a, self._a32_symbols["dsl_io_out"], out_floats)
        counts = {"front": front, "encode": encode, "decode": decode, "full": full}
        return PairSegment(path, counts, sent, 4 * out_floats, out.reshape(self._shape), predicted)

    @property
    def _shape(self) -> tuple[int, int]:
        return self.info.out_channels, self.info.out_frames
