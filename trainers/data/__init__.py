"""The data layer: audio files in and out, labelled clips, datasets and generated demo audio."""

from dslnas.trainers.data.audio_io import load_audio, save_audio
from dslnas.trainers.data.clips import Clip, random_crops, train_eval_split
from dslnas.trainers.data.datasets import load_dataset
from dslnas.trainers.data.demo_audio import generate_demo_clips

__all__ = [
    "Clip",
    "generate_demo_clips",
    "load_audio",
    "load_dataset",
    "random_crops",
    "save_audio",
    "train_eval_split",
]
