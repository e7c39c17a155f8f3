"""How a candidate is trained and on which audio: ``DataConfig``, ``TrainConfig``, and ``RunConfig`` (a
candidate and its recipe: the file ``dslnas train --config`` reads and export writes).

Telling a ``--data`` path's layout from what it holds is ``trainers.data.layout`` (it reads the disk).
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import Field, model_validator

from dslnas.spaces.candidate import CandidateConfig, Frozen, NonNegFloat, PosInt
from dslnas.spaces.presets import candidate_preset
from dslnas.spaces.synth_config import SynthOptions
from dslnas.spaces.yaml_io import deep_merge


class DatasetKind(str, enum.Enum):
    """Where training/evaluation audio comes from."""

    DEMO = "demo"          # generated, labelled speech-like / silence-like clips (no download)
    FOLDER = "folder"      # a folder of wav/flac files, label "unknown"
    LABELLED_FOLDER = "labelled_folder"  # <root>/<label>/**/*.wav: first-level sub-folders are class labels
    LIBRITTS = "libritts"  # LibriTTS layout: <root>/<speaker>/<chapter>/*.wav, label "speech", speaker kept
    MANIFEST = "manifest"  # CSV with a header path,label[,speaker,seconds]; paths relative to the CSV
    AUDIOSET = "audioset"  # AudioSet-style segment CSV over local audio files, labels kept
    SYNTH = "synth"        # a speech / silence corpus spoken here (Debian's synthesisers), made once and cached



class DataConfig(Frozen):
    """Which audio to use; ``path`` is a folder (folder, labelled_folder, libritts) or a CSV (manifest, audioset)."""

    kind: DatasetKind = DatasetKind.DEMO
    path: str | None = None
    audio_dir: str | None = None  # audioset: where <clip id>.wav/.flac live (default: the CSV's folder)
    demo_clips: PosInt = 24
    demo_clip_seconds: Annotated[float, Field(gt=0.0)] = 2.0
    synth_minutes: Annotated[float, Field(gt=0.0)] = 2.0  # synth: corpus size (path: its cache folder, optional)
    synth: SynthOptions | None = None  # synth: natural-corpus options (spaces/synth_config.py); None: default recipe
    eval_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.25
    eval_clip_seconds: Annotated[float, Field(ge=1.0)] | None = None  # held-out clips cut to their first N s
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> "DataConfig":
        if self.kind not in (DatasetKind.DEMO, DatasetKind.SYNTH) and not self.path:
            raise ValueError(f"data.path is required for kind '{self.kind.value}'")
        if self.synth is not None and self.kind is not DatasetKind.SYNTH:
            raise ValueError(f"data.synth applies to kind 'synth' only, not '{self.kind.value}'")
        return self


class DeviceKind(str, enum.Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class LightInit(str, enum.Enum):
    """How a light tail inserted into a trained codec starts: ``elastic`` takes its widths' prefix of the
    base's light-tail bank (``<base>.light.pt``, ``trainers.elastic_tail``) where one covers it and is
    ``sliced`` otherwise; ``sliced`` copies the full tail's most used channels (``trainers.light_init``);
    ``random`` is PyTorch's default initialisation."""

    ELASTIC = "elastic"
    SLICED = "sliced"
    RANDOM = "random"


class Trainable(str, enum.Enum):
    """Which parameters a run with ``init_checkpoint`` trains (a run without one trains everything).

    ``dsl``: only what the DSL adds (mask, switch, light tail); the base network, full tail, quantizer and
    decoder stay frozen (bit-identical). ``dsl+tail``: the DSL and the full tail (so it adapts to the mask).
    ``all``: every parameter, as base training does. ``decoder``: only the decoder, on the codec loss of the
    frozen encoder's quantized full path (a wider or differently built decoder for a trained encoder: the
    checkpoint's decoder weights load when they fit the candidate's decoder, else it starts fresh).
    """

    DSL = "dsl"
    DSL_TAIL = "dsl+tail"
    ALL = "all"
    DECODER = "decoder"


class LRSchedule(str, enum.Enum):
    """Learning rate over the run: ``constant``, or ``cosine`` decay to ``min_lr_fraction`` of it (both after
    ``warmup_steps`` of linear warm-up)."""

    CONSTANT = "constant"
    COSINE = "cosine"


class TrainConfig(Frozen):
    """How a candidate is trained. ``init_checkpoint``: start from a trained codec (DSL fine-tuning); a
    checkpoint file, or ``pretrained:<name>`` for a base shipped with dslnas (``trainers.pretrained``).

    ``trainable`` applies only with an ``init_checkpoint``; base training (none) trains everything.
    ``adam_betas``: Adam's (beta1, beta2); (0.5, 0.9) is the GAN-codec habit, (0.9, 0.99) suits
    reconstruction-only training. ``mel_floor_db``: log-mel floor relative to each example's loudest mel bin (dB, e.g. -80); ``None`` =
    the historical absolute floor 1e-5, which barely sees quiet material.
    """

    steps: PosInt = 300
    batch_size: PosInt = 8
    crop_seconds: Annotated[float, Field(gt=0.0)] = 0.8
    learning_rate: Annotated[float, Field(gt=0.0)] = 3e-3
    adam_betas: tuple[Annotated[float, Field(ge=0.0, lt=1.0)], Annotated[float, Field(ge=0.0, lt=1.0)]] = (0.5, 0.9)
    lr_schedule: LRSchedule = LRSchedule.CONSTANT
    warmup_steps: Annotated[int, Field(ge=0)] = 0
    min_lr_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.05
    seed: int = 0
    data: DataConfig = DataConfig()
    mel_weight: NonNegFloat = 1.0
    mel_log_weight: NonNegFloat = 1.0
    mel_floor_db: Annotated[float, Field(lt=0.0)] | None = None
    mel_fft_sizes: tuple[PosInt, ...] = (256, 512, 1024)
    mel_bins: PosInt = 40
    waveform_weight: NonNegFloat = 1.0
    stft_weight: NonNegFloat = 0.0  # log-STFT magnitude L1 (linear bins, trainers.losses.LogSTFTLoss)
    stft_fft_sizes: tuple[PosInt, ...] = (512, 2048)
    commitment_weight: NonNegFloat = 0.25
    use_discriminator: bool = False
    adversarial_weight: NonNegFloat = 0.1
    checkpoint_every: PosInt = 100
    init_checkpoint: str | None = None
    trainable: Trainable = Trainable.DSL
    light_init: LightInit = LightInit.ELASTIC  # with an init_checkpoint: how the inserted light tail starts
    switch_lr_mult: Annotated[float, Field(gt=0.0)] = 10.0  # the switch head's learning rate / learning_rate
    device: DeviceKind = DeviceKind.AUTO
    threads: Annotated[int, Field(ge=0)] = 0  # torch intra-op threads; 0 = leave torch's default

    @property
    def effective_trainable(self) -> Trainable:
        """What is trained: ``trainable`` with an ``init_checkpoint``, everything without one."""
        return self.trainable if self.init_checkpoint is not None else Trainable.ALL


class RunConfig(Frozen):
    """A candidate and its training recipe: what ``dslnas train --config`` reads and export writes.

    ``candidate`` may be given as a preset name (``candidate: demo``) or as ``{preset: demo, ...overrides}``.
    """

    candidate: CandidateConfig = CandidateConfig()
    train: TrainConfig = TrainConfig()
    provenance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cand = data.get("candidate")
        if isinstance(cand, str):
            cand = {"preset": cand}
        if isinstance(cand, dict) and "preset" in cand:
            overrides = {k: v for k, v in cand.items() if k != "preset"}
            base = candidate_preset(str(cand["preset"])).model_dump(mode="json")
            data = {**data, "candidate": deep_merge(base, overrides)}
        return data
