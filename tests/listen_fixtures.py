"""A listening section for the hand-built demo study without training: each listened point gets a tiny codec
of its own candidate (seeded random weights), the clips are synthetic and carry the records' clip ids."""

from __future__ import annotations

from pathlib import Path

import optuna
import torch

from dslnas.search.pareto import FrontPoint, ParetoFront, compute_pareto_front
from dslnas.search.report.html import render_page
from dslnas.search.report.listen import Listening, write_listening
from dslnas.search.report.metrics import ImportanceResult, hypervolume_history
from dslnas.trainers.codec import DSLCodec, build_codec
from dslnas.trainers.data import Clip

RATE_HZ = 16_000


def synthetic_clips(seconds: float = 0.5) -> list[Clip]:
    """A quiet clip and a voiced one (a tone under a syllable envelope), named as the records' clips."""
    t = torch.arange(round(seconds * RATE_HZ)) / RATE_HZ
    gen = torch.Generator().manual_seed(0)
    quiet = 0.003 * torch.randn(len(t), generator=gen)
    voiced = 0.3 * torch.sin(2 * torch.pi * 180 * t) * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t)).clamp(min=0)
    return [Clip("silence-0", quiet, "silence"), Clip("speech-4", voiced, "speech")]


def tiny_codec(point: FrontPoint) -> DSLCodec:
    torch.manual_seed(point.trained_trial)
    return build_codec(point.record.candidate).eval()


def report_with_listening(study: optuna.Study, out: Path, max_visqol_loss: float = 0.2,
                          fail_trial: int | None = None) -> tuple[Path, ParetoFront, Listening]:
    """``out/index.html``: the report page of ``study`` with a listening section (no PNGs, no knob importance;
    ``fail_trial``: that point's weights cannot be loaded)."""
    front = compute_pareto_front(study, max_visqol_loss)

    def codec_for(point: FrontPoint) -> DSLCodec:
        if point.number == fail_trial:
            raise OSError(f"checkpoint of trial {point.number} <gone>")
        return tiny_codec(point)

    listening = write_listening(front, synthetic_clips(), codec_for, out)
    page = render_page(front, hypervolume_history(front), ImportanceResult({}, "not computed in this test"), listening)
    (out / "index.html").write_text(page, encoding="utf-8")
    return out / "index.html", front, listening
