"""Codec reconstruction losses: multi-scale mel and waveform L1 (SoundStream / EnCodec style).

The log-mel term needs a floor. ``floor_db=None`` is the historical absolute floor (``log(mel + 1e-5)``),
under which quiet material (room tone at -75..-60 dBFS, most of a "silence" clip's spectrum) sits at the
floor and barely moves the loss. ``floor_db=-80`` puts the floor 80 dB below each example's own loudest
mel bin instead, so a quiet clip is seen at the same resolution as a loud one (the log-mel term becomes
level-invariant, and a codec that plays silence 8 dB too loud pays for it).
"""

from __future__ import annotations

import torch
import torchaudio
from torch import nn

ABSOLUTE_FLOOR = 1e-5
"""The historical absolute log-mel floor (mel magnitude units)."""
TINY_FLOOR = 1e-9
"""Lower bound of the relative floor, so digital silence does not give ``log(0)``."""


class MultiScaleMelLoss(nn.Module):
    """Sum over FFT sizes of L1 on mel magnitudes plus ``log_weight`` x L1 on log-mel. ``[B, 1, T]`` pairs -> scalar.

    ``floor_db``: log-mel floor relative to each example's (target's) loudest mel bin, in dB (e.g. -80);
    ``None``: the absolute floor :data:`ABSOLUTE_FLOOR`.
    """

    def __init__(
        self,
        sample_rate_hz: int,
        fft_sizes: tuple[int, ...] = (256, 512, 1024),
        n_mels: int = 40,
        floor_db: float | None = None,
        log_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.floor_db, self.log_weight = floor_db, log_weight
        self.mels = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate_hz, n_fft=n, hop_length=n // 4, n_mels=min(n_mels, n // 8), power=1.0
            )
            for n in fft_sizes
        )

    def _floor(self, ref: torch.Tensor) -> torch.Tensor | float:
        """The log floor for ``ref [B, 1, M, F]``: absolute, or ``floor_db`` below each example's peak ``[B, 1, 1, 1]``."""
        if self.floor_db is None:
            return ABSOLUTE_FLOOR
        peak = ref.detach().amax(dim=(-1, -2, -3), keepdim=True)
        return (peak * 10.0 ** (self.floor_db / 20.0)).clamp_min(TINY_FLOOR)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        for mel in self.mels:
            est, ref = mel(estimate), mel(target)
            floor = self._floor(ref)
            log_l1 = (torch.log(est + floor) - torch.log(ref + floor)).abs().mean()
            total = total + (est - ref).abs().mean() + self.log_weight * log_l1
        return total / len(self.mels)


def waveform_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute sample error, ``[B, 1, T]`` pairs -> scalar."""
    return (estimate - target).abs().mean()


class LogSTFTLoss(nn.Module):
    """Mean over FFT sizes of L1 between log STFT magnitudes, ``[B, 1, T]`` pairs -> scalar.

    Linear frequency bins resolve what a 40-band mel loss smears: tones a transposed conv leaves at
    multiples of its output rate / stride. The log floor sits ``floor_db`` below each example's loudest bin.
    """

    def __init__(self, fft_sizes: tuple[int, ...] = (512, 2048), floor_db: float = -80.0) -> None:
        super().__init__()
        self.fft_sizes, self.floor_db = fft_sizes, floor_db
        for n in fft_sizes:
            self.register_buffer(f"window_{n}", torch.hann_window(n), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        for n in self.fft_sizes:
            window = getattr(self, f"window_{n}")
            est, ref = (torch.stft(x.reshape(-1, x.shape[-1]), n, n // 4, window=window, return_complex=True).abs()
                        for x in (estimate, target))
            floor = (ref.detach().amax(dim=(-1, -2), keepdim=True) * 10.0 ** (self.floor_db / 20.0)).clamp_min(TINY_FLOOR)
            total = total + (torch.log(est + floor) - torch.log(ref + floor)).abs().mean()
        return total / len(self.fft_sizes)
