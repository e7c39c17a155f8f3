"""The typed configs every part of dslnas shares.

``CandidateConfig`` is the object a search trial samples, the one ``trainers`` builds a codec from, the
one ``hw_models`` prices and the one ``export`` writes. ``TrainConfig`` is how it is trained and
``RunConfig`` pairs the two (the file ``dslnas train --config`` reads). All models are frozen and reject
unknown keys; values are range-checked on construction.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _refuse_bool(value: Any) -> Any:
    """``true`` is not 1: a YAML boolean where an integer is expected is an error, not a silent 1."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got a boolean ({str(value).lower()})")
    return value


PosInt = Annotated[int, BeforeValidator(_refuse_bool), Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
# Configs whose floats feed a computation reject inf/nan (``.inf`` in YAML) with an error naming the key.
FINITE = ConfigDict(allow_inf_nan=False)


class Frozen(BaseModel):
    """Base for all configs: immutable, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EncoderArch(Frozen):
    """SoundStream-style causal encoder: stem conv, strided blocks, projection to the embedding.

    Block ``i`` runs ``len(residual_dilations)`` residual units at its input width, then a strided conv
    (kernel ``2 * stride``) to ``block_channels[i]``. Input ``[B, 1, T]`` -> embedding
    ``[B, embedding_dim, T / prod(block_strides)]``.
    """

    sample_rate_hz: PosInt = 16_000
    stem_channels: PosInt = 4
    stem_kernel: PosInt = 7
    block_channels: tuple[PosInt, ...] = (8, 16, 32, 96)
    block_strides: tuple[PosInt, ...] = (2, 4, 5, 8)
    residual_kernel: PosInt = 5
    residual_dilations: tuple[PosInt, ...] = (1,)
    embedding_dim: PosInt = 32
    final_kernel: PosInt = 3

    model_config = FINITE

    @model_validator(mode="after")
    def _check(self) -> "EncoderArch":
        if not self.block_channels:
            raise ValueError("block_channels must name at least one block")
        if len(self.block_channels) != len(self.block_strides):
            raise ValueError(
                f"block_channels has {len(self.block_channels)} entries but block_strides has "
                f"{len(self.block_strides)}"
            )
        if not self.residual_dilations:
            raise ValueError("residual_dilations must not be empty")
        return self

    @property
    def n_blocks(self) -> int:
        return len(self.block_channels)

    @property
    def hop_samples(self) -> int:
        """Input samples per embedding frame."""
        hop = 1
        for stride in self.block_strides:
            hop *= stride
        return hop

    def channels_after(self, depth: int) -> int:
        """Channel count after ``depth`` blocks (``depth=0``: the stem's output)."""
        return self.stem_channels if depth == 0 else self.block_channels[depth - 1]


class StatePolicy(str, enum.Enum):
    """What a streaming tail that sat idle has as causal history when it runs again.

    ``reset``: zero history. ``stale``: the history it had when it last ran. ``warm``: it first re-runs,
    from zero history, over its receptive field of buffered masked base frames, so its output equals the
    offline tail's (at the cost of those replayed frames).
    """

    RESET = "reset"
    STALE = "stale"
    WARM = "warm"


class DSLConfig(Frozen):
    """Where the Dynamic Switch Layer sits and how it is shaped, trained and routed.

    ``switch_depth`` d: the base network is the stem and blocks ``[0, d)``; the DSL follows block d-1.
    ``light_widths``: the lightweight tail's widths, one entry for the width its first residual units run
    at (a 1x1 entry conv adapts the base channels when it differs) and one per remaining block output,
    so ``len == n_blocks - switch_depth + 1``.
    ``threshold``: a segment whose predicted discrepancy is below it takes the light path; 0 = full only.
    ``state_policy``: the causal history an idle tail resumes with in the streaming runtime.
    """

    switch_depth: PosInt = 3
    light_widths: tuple[PosInt, ...] = (9, 10)
    switch_hidden: PosInt = 8
    alpha: NonNegFloat = 1e-4  # next to no zeros with the identity-start mask (bench/alpha_sparsity.py)
    beta: NonNegFloat = 1.0
    threshold: NonNegFloat = 0.3
    segment_frames: PosInt = 10
    state_policy: StatePolicy = StatePolicy.WARM

    model_config = FINITE


class QuantizerConfig(Frozen):
    """Residual VQ with EMA codebooks, k-means init, dead-code restart and quantizer dropout."""

    num_quantizers: PosInt = 4
    codebook_size: PosInt = 256
    ema_decay: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    dead_code_threshold: NonNegFloat = 2.0
    kmeans_iters: Annotated[int, Field(ge=0)] = 10
    quantizer_dropout: bool = True


class DecoderUpsample(str, enum.Enum):
    """How a decoder block raises the frame rate by its stride.

    ``transposed``: a strided transposed conv (kernel ``2 * stride``), SoundStream's choice; it can leave
    imaging tones at multiples of the input frame rate. ``repeat``: repeat each frame ``stride`` times
    (nearest-neighbour hold, whose response is zero at every multiple of the input frame rate), then a
    causal conv (kernel ``2 * stride``); no tones by construction. The decoder runs off the device, so
    neither choice changes the cost model.
    """

    TRANSPOSED = "transposed"
    REPEAT = "repeat"


class CandidateConfig(Frozen):
    """One point of a search: the encoder, its DSL, and the quantizer/decoder around it.

    ``decoder_channel_mult`` scales the decoder's widths over the encoder's; ``decoder_upsample`` picks its
    upsampling (:class:`DecoderUpsample`). Neither runs on the device.
    """

    name: str = "candidate"
    encoder: EncoderArch = EncoderArch()
    dsl: DSLConfig = DSLConfig()
    quantizer: QuantizerConfig = QuantizerConfig()
    decoder_channel_mult: Annotated[float, Field(gt=0.0)] = 1.0
    decoder_upsample: DecoderUpsample = DecoderUpsample.TRANSPOSED

    model_config = FINITE

    @model_validator(mode="after")
    def _check(self) -> "CandidateConfig":
        n_blocks = self.encoder.n_blocks
        depth = self.dsl.switch_depth
        if not 1 <= depth <= n_blocks:
            raise ValueError(f"dsl.switch_depth must be in [1, {n_blocks}], got {depth}")
        expected = n_blocks - depth + 1
        if len(self.dsl.light_widths) != expected:
            raise ValueError(
                f"dsl.light_widths needs {expected} entries for switch_depth {depth} "
                f"of {n_blocks} blocks, got {len(self.dsl.light_widths)}"
            )
        for i, (light, full) in enumerate(zip(self.dsl.light_widths, self.full_tail_widths)):
            if light > full:
                raise ValueError(
                    f"dsl.light_widths[{i}] is {light}, wider than the full path's {full} there "
                    f"(a light path must not be wider than the full one)"
                )
        return self

    @property
    def full_tail_widths(self) -> tuple[int, ...]:
        """The full path's widths at the positions of ``dsl.light_widths``: the base output, then each tail block's."""
        depth = self.dsl.switch_depth
        return (self.encoder.channels_after(depth),) + tuple(self.encoder.block_channels[depth:])

    @property
    def segment_samples(self) -> int:
        """Input samples per routing segment."""
        return self.dsl.segment_frames * self.encoder.hop_samples

    def with_dsl(self, **changes: Any) -> "CandidateConfig":
        """A copy with DSL fields replaced (validated)."""
        dsl = DSLConfig.model_validate({**self.dsl.model_dump(), **changes})
        return CandidateConfig.model_validate({**self.model_dump(), "dsl": dsl.model_dump()})


class DatasetKind(str, enum.Enum):
    """Where training/evaluation audio comes from."""

    DEMO = "demo"          # generated, labelled speech-like / silence-like clips (no download)
    FOLDER = "folder"      # a folder of wav/flac files, label "unknown"
    LABELLED_FOLDER = "labelled_folder"  # <root>/<label>/**/*.wav: first-level sub-folders are class labels
    LIBRITTS = "libritts"  # LibriTTS layout: <root>/<speaker>/<chapter>/*.wav, label "speech", speaker kept
    MANIFEST = "manifest"  # CSV with a header path,label[,speaker,seconds]; paths relative to the CSV
    AUDIOSET = "audioset"  # AudioSet-style segment CSV over local audio files, labels kept
    SYNTH = "synth"        # a speech / silence corpus spoken here (Debian's synthesisers), made once and cached


_AUDIO_SUFFIXES = (".wav", ".flac")  # as trainers.data.audio_io.AUDIO_SUFFIXES (spaces never imports trainers)
MANIFEST_FILE = "manifest.csv"


class DataConfig(Frozen):
    """Which audio to use; ``path`` is a folder (folder, labelled_folder, libritts) or a CSV (manifest, audioset)."""

    kind: DatasetKind = DatasetKind.DEMO
    path: str | None = None
    audio_dir: str | None = None  # audioset: where <clip id>.wav/.flac live (default: the CSV's folder)
    demo_clips: PosInt = 24
    demo_clip_seconds: Annotated[float, Field(gt=0.0)] = 2.0
    synth_minutes: Annotated[float, Field(gt=0.0)] = 2.0  # synth: corpus size (path: its cache folder, optional)
    eval_fraction: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.25
    eval_clip_seconds: Annotated[float, Field(ge=1.0)] | None = None  # held-out clips cut to their first N s
    seed: int = 0

    @staticmethod
    def from_path(path: str | Path, **changes: Any) -> "DataConfig":
        """The data a ``--data PATH`` option names, its layout told from what the path holds.

        The first rule that matches decides:

        1. a ``.csv`` file: its first line that is neither blank nor a ``#`` comment names the columns
           ``path`` and ``label`` -> ``manifest``; otherwise (or when the file cannot be read) ``audioset``;
        2. a folder holding ``manifest.csv`` -> ``manifest`` (that CSV);
        3. a folder where at least half of the wav/flac files are LibriTTS utterances
           (``<speaker>/<chapter>/<speaker>_<chapter>_*``) -> ``libritts``;
        4. a folder with no audio directly inside it but audio in its sub-folders -> ``labelled_folder``
           (each first-level sub-folder is a class);
        5. anything else (audio directly in the folder, or a path that does not exist) -> ``folder``.
        """
        path = Path(path).expanduser()
        if path.suffix.lower() == ".csv":
            kind = DatasetKind.MANIFEST if _has_manifest_header(path) else DatasetKind.AUDIOSET
        elif path.is_dir() and (path / MANIFEST_FILE).is_file():
            kind, path = DatasetKind.MANIFEST, path / MANIFEST_FILE
        else:
            kind = _folder_kind(path)
        return DataConfig(kind=kind, path=str(path), **changes)

    @model_validator(mode="after")
    def _check(self) -> "DataConfig":
        if self.kind not in (DatasetKind.DEMO, DatasetKind.SYNTH) and not self.path:
            raise ValueError(f"data.path is required for kind '{self.kind.value}'")
        return self


def _has_manifest_header(csv_path: Path) -> bool:
    """Whether the CSV's first data line names the ``path`` and ``label`` columns."""
    try:
        with csv_path.open(encoding="utf-8-sig") as lines:
            first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    except (OSError, UnicodeDecodeError):
        return False
    return {"path", "label"} <= {name.strip().strip('"').lower() for name in first.split(",")}


def _folder_kind(root: Path) -> DatasetKind:
    """Rules 3-5 of :meth:`DataConfig.from_path` for a folder (or a path that is not one)."""
    if not root.is_dir():
        return DatasetKind.FOLDER
    files = [p.relative_to(root) for p in root.rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES and p.is_file()]
    if not files:
        return DatasetKind.FOLDER
    libritts = sum(
        len(rel.parts) >= 3 and rel.stem.startswith(f"{rel.parts[-3]}_{rel.parts[-2]}_") for rel in files
    )
    if 2 * libritts >= len(files):
        return DatasetKind.LIBRITTS
    if all(len(rel.parts) >= 2 for rel in files):
        return DatasetKind.LABELLED_FOLDER
    return DatasetKind.FOLDER


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
            from dslnas.spaces.presets import candidate_preset  # presets build on this module
            from dslnas.spaces.yaml_io import deep_merge

            overrides = {k: v for k, v in cand.items() if k != "preset"}
            base = candidate_preset(str(cand["preset"])).model_dump(mode="json")
            data = {**data, "candidate": deep_merge(base, overrides)}
        return data
