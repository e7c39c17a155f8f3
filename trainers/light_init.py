"""Start a light tail from the trained full tail: the same layers, keeping each layer's most used channels.

The light tail has the full tail's layer structure at smaller widths (``encoder.build_tail``). Between two
layers runs a *stream* of channels (the tail's input, each block's residual stream, each block's output);
for every stream the light tail keeps the ``width`` channels whose weights its consumers (the convs that
read the stream) use most (L1 norm of their input columns), in their original order, and every conv is
copied with the kept rows and columns. The 1x1 entry conv a light tail has when its first width is below
the base's channels becomes the selection of the kept base channels. This is structured magnitude
pruning used as an initialisation: distillation (``L_light``) then starts from the full tail's features
instead of noise. A light tail with fewer residual units per block keeps the first ones; one with another
residual kernel keeps the most recent taps (``_copy_taps``).
"""

from __future__ import annotations

import torch
from torch import nn

from dslnas.trainers.blocks import EncoderBlock, ResidualUnit
from dslnas.trainers.encoder import DSLEncoder


def _blocks(tail: nn.Sequential) -> list[EncoderBlock]:
    return [m for m in tail if isinstance(m, EncoderBlock)]


def _convs_reading(block: EncoderBlock) -> list[nn.Conv1d]:
    """The convs of ``block`` that read its residual stream (each unit's dilated conv, the strided conv)."""
    return [u.conv for u in block if isinstance(u, ResidualUnit)] + [block[-1]]


def _kept(consumers: list[nn.Conv1d], width: int, ordered: bool = False) -> torch.Tensor:
    """Indices of the ``width`` input channels the ``consumers`` weigh most (summed L1 norm): ascending, or
    with ``ordered`` from the most used down (so every prefix is the most used channels of its size)."""
    usage = sum(conv.weight.detach().abs().sum(dim=(0, 2)) for conv in consumers)
    top = torch.topk(usage, width).indices  # sorted by usage, largest first
    return top if ordered else torch.sort(top).values


def _units(block: EncoderBlock) -> list[ResidualUnit]:
    return [u for u in block if isinstance(u, ResidualUnit)]


def _copy_taps(dst: nn.Conv1d, src: nn.Conv1d, kept: torch.Tensor) -> None:
    """``_copy`` of a residual conv whose kernel may differ: a shorter light kernel keeps the full kernel's
    last (most recent, causal) taps; a longer one gets the full kernel in its last taps and zeros before."""
    k_dst, k_src = dst.kernel_size[0], src.kernel_size[0]
    if k_dst == k_src:
        _copy(dst, src, kept, kept)
        return
    weight = src.weight.detach()[kept][:, kept]
    dst.weight.zero_()
    taps = min(k_dst, k_src)
    dst.weight[..., k_dst - taps:] = weight[..., k_src - taps:]
    dst.bias.copy_(src.bias.detach()[kept])


def _copy(dst: nn.Conv1d, src: nn.Conv1d, rows: torch.Tensor | None, cols: torch.Tensor) -> None:
    weight = src.weight.detach()[:, cols] if rows is None else src.weight.detach()[rows][:, cols]
    dst.weight.copy_(weight)
    if dst.bias is not None and src.bias is not None:
        dst.bias.copy_(src.bias.detach() if rows is None else src.bias.detach()[rows])


@torch.no_grad()
def slice_light_tail(encoder: DSLEncoder, ordered: bool = False) -> None:
    """Overwrite ``encoder.light_tail``'s weights with the full tail's most used channels (module notes);
    ``ordered`` keeps them from the most used down instead of in their original order (for
    ``trainers.elastic_tail``, whose narrower tails are prefixes)."""
    full, light = encoder.full_tail, encoder.light_tail
    full_blocks, light_blocks = _blocks(full), _blocks(light)
    if len(full_blocks) != len(light_blocks):
        raise ValueError("light tail and full tail have different block counts")
    widths = [blk[-1].in_channels for blk in light_blocks] + [light[-1].in_channels]
    heads = [full[-1]]
    streams = [_kept(_convs_reading(b), w, ordered) for b, w in zip(full_blocks, widths)] + [_kept(heads, widths[-1], ordered)]
    if type(light[0]) is nn.Conv1d:
        entry = light[0]  # base channels -> widths[0]: select the kept base channels
        entry.weight.zero_()
        entry.weight[torch.arange(len(streams[0])), streams[0], 0] = 1.0
        entry.bias.zero_()
    for j, (src, dst) in enumerate(zip(full_blocks, light_blocks)):
        inside, out = streams[j], streams[j + 1]
        for su, du in zip(_units(src), _units(dst)):  # a light tail with fewer units keeps the first ones
            _copy_taps(du.conv, su.conv, inside)
            _copy(du.pointwise, su.pointwise, inside, inside)
        _copy(dst[-1], src[-1], out, inside)
    _copy(light[-1], full[-1], None, streams[-1])
