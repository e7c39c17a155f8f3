"""Named candidate presets (factories, so callers get fresh validated objects).

``paper``: a reconstruction of the lean SoundStream encoder of the DSL paper (section 3.1.2, figure 2):
about 70k encoder parameters at 16 kHz, switch after block 3, so the sub-model after the switch has
~65k parameters / ~5.4 MMAC per second of audio on the full path and ~3.1k / ~0.44 MMAC/s on the light
path. ``demo``: the same family with three blocks (40-sample hop, so it learns fast), so that a training
run takes about a minute on 2 CPU cores.
"""

from __future__ import annotations

from collections.abc import Callable

from dslnas.spaces.candidate import CandidateConfig, DecoderUpsample, DSLConfig, EncoderArch, QuantizerConfig
from dslnas.spaces.errors import unknown_name


def paper_candidate() -> CandidateConfig:
    return CandidateConfig(
        name="paper",
        encoder=EncoderArch(
            stem_channels=4,
            block_channels=(8, 16, 32, 96),
            block_strides=(2, 4, 5, 8),
            residual_kernel=5,
            residual_dilations=(1,),
            embedding_dim=32,
            final_kernel=3,
        ),
        dsl=DSLConfig(switch_depth=3, light_widths=(9, 10), threshold=0.3),
        quantizer=QuantizerConfig(num_quantizers=6, codebook_size=256),
    )


def demo_candidate() -> CandidateConfig:
    return CandidateConfig(
        name="demo",
        encoder=EncoderArch(
            stem_channels=8,
            block_channels=(16, 24, 32),
            block_strides=(2, 4, 5),
            residual_kernel=5,
            residual_dilations=(1, 3),
            embedding_dim=32,
            final_kernel=3,
        ),
        dsl=DSLConfig(switch_depth=2, light_widths=(8, 8), threshold=0.3),
        quantizer=QuantizerConfig(num_quantizers=6, codebook_size=64),
        decoder_channel_mult=4.0,                      # off the device: free in the cost model
        decoder_upsample=DecoderUpsample.REPEAT,        # no imaging tones (the shipped base's decoder)
    )


CANDIDATE_PRESETS: dict[str, Callable[[], CandidateConfig]] = {
    "paper": paper_candidate,
    "demo": demo_candidate,
}


def candidate_preset(name: str) -> CandidateConfig:
    """The preset called ``name``; an unknown name is a UserError listing the valid ones."""
    try:
        return CANDIDATE_PRESETS[name]()
    except KeyError:
        raise unknown_name("candidate preset", name, list(CANDIDATE_PRESETS)) from None
