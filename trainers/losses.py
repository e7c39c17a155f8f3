"""Codec reconstruction losses: multi-scale mel and waveform L1 (SoundStream / EnCodec style)."""

from __future__ import annotations

import torch
import torchaudio
from torch import nn


class MultiScaleMelLoss(nn.Module):
    """Sum over FFT sizes of L1 on mel magnitudes plus L1 on log-mel. ``[B, 1, T]`` pairs -> scalar."""

    def __init__(self, sample_rate_hz: int, fft_sizes: tuple[int, ...] = (256, 512, 1024), n_mels: int = 40) -> None:
        super().__init__()
        self.mels = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate_hz, n_fft=n, hop_length=n // 4, n_mels=min(n_mels, n // 8), power=1.0
            )
            for n in fft_sizes
        )

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = estimate.new_zeros(())
        for mel in self.mels:
            est, ref = mel(estimate), mel(target)
            total = total + (est - ref).abs().mean() + (torch.log(est + 1e-5) - torch.log(ref + 1e-5)).abs().mean()
        return total / len(self.mels)


def waveform_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute sample error, ``[B, 1, T]`` pairs -> scalar."""
    return (estimate - target).abs().mean()
