"""Optional STFT discriminator (SoundStream section 3.4, single scale), with hinge losses.

Off by default: short proxy trainings in a search stay cheap and stable without it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class STFTDiscriminator(nn.Module):
    """2-D conv stack over the complex STFT (real and imaginary as channels). ``[B, 1, T] -> [B, 1, F', T']``."""

    def __init__(self, n_fft: int = 512, channels: int = 16) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.net = nn.Sequential(
            nn.Conv2d(2, channels, (3, 9), padding=(1, 4)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, (3, 9), stride=(2, 1), padding=(1, 4)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, channels, (3, 9), stride=(2, 1), padding=(1, 4)),
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)),
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        audio = F.pad(audio, (0, max(0, self.n_fft - audio.shape[-1])))  # clips shorter than one window
        spec = torch.stft(audio.squeeze(1), self.n_fft, self.n_fft // 4, window=self.window, return_complex=True)
        return self.net(torch.stack([spec.real, spec.imag], dim=1))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss for the discriminator."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge loss for the generator."""
    return F.relu(1 - fake_logits).mean()
