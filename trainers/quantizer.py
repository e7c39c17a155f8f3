"""Residual vector quantizer, built on ``vector-quantize-pytorch`` (EMA codebooks, k-means init,
dead-code restart, quantizer dropout)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from vector_quantize_pytorch import ResidualVQ

from dslnas.spaces.candidate import QuantizerConfig


@dataclass(frozen=True)
class QuantizedOutput:
    """``quantized: [B, D, T]``, ``codes: [B, T, n_q]`` (int64), ``commitment``: scalar loss."""

    quantized: torch.Tensor
    codes: torch.Tensor
    commitment: torch.Tensor


class ResidualQuantizer(nn.Module):
    """``[B, D, T]`` embeddings -> quantized embeddings of the same shape, codes and commitment loss."""

    def __init__(self, dim: int, cfg: QuantizerConfig) -> None:
        super().__init__()
        self.rvq = ResidualVQ(
            dim=dim,
            num_quantizers=cfg.num_quantizers,
            codebook_size=cfg.codebook_size,
            decay=cfg.ema_decay,
            kmeans_init=cfg.kmeans_iters > 0,
            kmeans_iters=max(cfg.kmeans_iters, 1),
            threshold_ema_dead_code=cfg.dead_code_threshold,
            quantize_dropout=cfg.quantizer_dropout and cfg.num_quantizers > 1,
            quantize_dropout_cutoff_index=1 if cfg.num_quantizers > 1 else 0,
        )

    def forward(self, embedding: torch.Tensor) -> QuantizedOutput:
        quantized, codes, commitment = self.rvq(embedding.transpose(1, 2))
        return QuantizedOutput(quantized.transpose(1, 2), codes, commitment.sum())
