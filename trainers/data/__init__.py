"""The data layer: audio files in and out, labelled clips, datasets, splits and generated audio."""

from dslnas.trainers.data.audio_io import AudioSpan, load_audio, open_span, save_audio
from dslnas.trainers.data.clips import Clip, evaluation_clips, random_crops, train_eval_split
from dslnas.trainers.data.datasets import DatasetIndex, ShortClipWarning, index_dataset, load_dataset
from dslnas.trainers.data.demo_audio import generate_demo_clips
from dslnas.trainers.data.manifest import Manifest, ManifestEntry, read_manifest, split_manifest
from dslnas.trainers.data.speech_synth import SynthFallbackWarning, synthesize_corpus

__all__ = [
    "AudioSpan",
    "Clip",
    "DatasetIndex",
    "Manifest",
    "ManifestEntry",
    "ShortClipWarning",
    "SynthFallbackWarning",
    "generate_demo_clips",
    "index_dataset",
    "load_audio",
    "load_dataset",
    "open_span",
    "random_crops",
    "read_manifest",
    "save_audio",
    "split_manifest",
    "synthesize_corpus",
    "train_eval_split",
    "evaluation_clips",
]
