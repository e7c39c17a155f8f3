"""Where a scored point comes from, resolved once for ``evaluate``, ``stream``, ``confirm`` and ``export``.

A user names a point in one of three ways; :func:`resolve_point` turns each into one :class:`PointSource`
(the codec's weights, the candidate with the threshold it is routed at, and where that threshold came from):

* ``pretrained:NAME`` (or the path of a shipped base, a checkpoint without DSL weights): the base codec,
  scored on its **full path**. Its DSL is inert: a fresh identity mask and an untrained switch and light
  tail, routed at threshold 0, which sends no segment light (the switch's prediction is a softplus, > 0).
* ``--study S --trial N``: that point of the study, its weights from the trained trial (a sweep point's
  parent) and its threshold **from the trial's record** (the point that was scored and priced).
* a checkpoint path: a trained codec. When the file is a trial's checkpoint of a study in the default
  layout (``<runs>/<study>/trials/<key>/checkpoint.pt`` beside ``<runs>/<study>/optuna.db``), the
  threshold is the trained trial's recorded one (a trial checkpoint's candidate keeps the space's preset
  threshold, which is not what was scored); otherwise the checkpoint's candidate's.

``--threshold`` replaces the threshold (:meth:`PointSource.at_threshold`); a DSL-inert base refuses it.

Each point also knows the data it is scored on by default (:attr:`PointSource.eval_data`: a study's search
data, a checkpoint's training data, a shipped base's space's fine-tune data), and a ``--data PATH`` keeps
that data's **evaluation settings** (``eval_clip_seconds``, ``seed``) unless told otherwise
(:meth:`PointSource.data_for`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dslnas.spaces.candidate import CandidateConfig
from dslnas.spaces.errors import UserError
from dslnas.spaces.run_config import DataConfig, RunConfig
from dslnas.trainers.checkpoint import Checkpoint, load_checkpoint
from dslnas.trainers.codec import DSL_PREFIXES
from dslnas.trainers.pretrained import PREFIX, resolve_init_checkpoint

if TYPE_CHECKING:
    import optuna

    from dslnas.search.config import SearchConfig
    from dslnas.search.records import TrialRecord
    from dslnas.trainers.codec import DSLCodec

INERT_THRESHOLD = 0.0
"""The threshold a DSL-inert base is routed at: no prediction is below it (full path only)."""
FRESH_DSL_SEED = 0


class SourceKind(str, enum.Enum):
    """How the point was named."""

    PRETRAINED = "pretrained"     # a shipped base (or a base checkpoint without DSL weights): full path only
    CHECKPOINT = "checkpoint"     # a trained codec's checkpoint file
    STUDY_POINT = "study_point"   # --study S --trial N


@dataclass(frozen=True)
class PointSource:
    """One point to evaluate, stream, confirm or export.

    Attributes:
        kind: how it was named.
        label: what the user named (``pretrained:speech16k``, a path, ``study demo trial 84``).
        checkpoint_path: the file the weights come from.
        candidate: the codec's candidate, its ``dsl.threshold`` the threshold the point is routed at.
        threshold_from: where that threshold came from, said in every output.
        run: the run config the weights were trained with (its data is the default evaluation set).
        study, trial: the study point, when there is one (``trial``: the point asked for, maybe a sweep point).
        profile: the study's device profile, when the point comes from a study.
        record: the trial's record, for a study point (or a study found from a trial checkpoint).
        eval_data: the data the point is scored on by default; its evaluation settings apply to ``--data``.
    """

    kind: SourceKind
    label: str
    checkpoint_path: Path
    candidate: CandidateConfig
    threshold_from: str
    run: RunConfig
    study: str | None = None
    trial: int | None = None
    profile: str | None = None
    record: "TrialRecord | None" = None
    eval_data: DataConfig | None = None

    @property
    def threshold(self) -> float:
        return self.candidate.dsl.threshold

    @property
    def dsl_inert(self) -> bool:
        """Whether the DSL is untrained (a base): only the full path means anything."""
        return self.kind is SourceKind.PRETRAINED

    def at_threshold(self, threshold: float | None) -> "PointSource":
        """This point routed at ``threshold`` (``--threshold``); None keeps it. A base refuses one."""
        if threshold is None:
            return self
        if self.dsl_inert:
            raise UserError(f"{self.label} is a base codec without a trained DSL (full path only); "
                            "--threshold needs a trained point (a checkpoint or --study/--trial)")
        return replace(self, candidate=self.candidate.with_dsl(threshold=threshold), threshold_from="--threshold")

    @property
    def default_data(self) -> DataConfig:
        """The data scored when no ``--data`` is given."""
        return self.eval_data or self.run.train.data

    def data_for(self, path: str | Path | None, eval_clip_seconds: float | None = None) -> DataConfig:
        """The data to score: ``path`` (every clip of it, its layout told by ``data_config_for``) or the default
        data, with the default's ``eval_clip_seconds`` and ``seed`` unless ``eval_clip_seconds`` is given
        (0: whole clips; otherwise at least 1 s)."""
        from dslnas.trainers.data.layout import data_config_for

        settings = self.default_data
        if eval_clip_seconds is not None and 0 < eval_clip_seconds < 1:
            raise UserError(f"--eval-clip-seconds must be 0 (whole clips) or at least 1, got {eval_clip_seconds:g}")
        cut = settings.eval_clip_seconds if eval_clip_seconds is None else (eval_clip_seconds or None)
        if path is None:
            return settings.model_copy(update={"eval_clip_seconds": cut})
        return data_config_for(path, eval_fraction=0.0, eval_clip_seconds=cut, seed=settings.seed)

    def codec(self) -> "DSLCodec":
        """The codec in eval mode: the checkpoint's weights; a base's DSL inserted fresh (seeded, inert)."""
        import torch

        from dslnas.trainers.codec import build_codec, insert_dsl

        state = load_checkpoint(self.checkpoint_path).model
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(FRESH_DSL_SEED)
            if self.dsl_inert:
                try:
                    return insert_dsl(self.candidate, state).eval()
                except ValueError as err:
                    raise UserError(f"{self.label}: {err}") from err
            codec = build_codec(self.candidate)
        try:
            codec.load_state_dict(state)
        except RuntimeError as err:  # missing / unexpected / mis-shaped tensors
            raise UserError(f"{self.label}: the weights do not fit the candidate "
                            f"({str(err).splitlines()[0].rstrip(':.')})") from err
        return codec.eval()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "label": self.label, "checkpoint": str(self.checkpoint_path),
                "candidate": self.candidate.name, "threshold": self.threshold, "threshold_from": self.threshold_from,
                "dsl_inert": self.dsl_inert, "study": self.study, "trial": self.trial, "profile": self.profile}


def _search_data(config: "SearchConfig") -> DataConfig:
    """What a study's trials were scored on: the search's data, with the space's evaluation cut when it set none."""
    space_data = config.space.finetune.data
    data = config.data or space_data
    if data.eval_clip_seconds is None and space_data.eval_clip_seconds is not None:
        data = data.model_copy(update={"eval_clip_seconds": space_data.eval_clip_seconds})
    return data


def _base_space_data(label: str) -> DataConfig | None:
    """The fine-tune data of the shipped space built on the shipped base ``label`` (``pretrained:NAME``)."""
    from dslnas.spaces.space_presets import SPACE_PRESETS

    for make in SPACE_PRESETS.values():
        space = make()
        if space.pretrained_base == label:
            return space.finetune.data
    return None


def resolve_point(checkpoint: str | None = None, study: str | None = None, trial: int | None = None,
                  storage: str | None = None) -> PointSource:
    """The point named by ``--checkpoint`` (``pretrained:NAME`` or a path) or by ``--study`` and ``--trial``
    (exactly one of the two); UserError for anything else."""
    if (checkpoint is None) == (study is None and trial is None):
        raise UserError("give either --checkpoint (pretrained:NAME or a checkpoint file) or --study and --trial")
    if checkpoint is not None:
        return _from_checkpoint(checkpoint)
    if study is None or trial is None:
        raise UserError("a study point needs both --study and --trial")
    from dslnas.search.storage import load_existing_study

    return study_point(load_existing_study(storage, study), trial)


def study_point(study: "optuna.Study", number: int) -> PointSource:
    """Point ``number`` of ``study``: its recorded candidate and threshold, its (parent's) checkpoint."""
    from dslnas.search.artifacts import checkpoint_of
    from dslnas.search.pareto import search_config_of
    from dslnas.search.records import record_from_trial

    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    record = None if trial is None else record_from_trial(trial)
    if record is None:
        raise UserError(f"study {study.study_name!r} has no completed trial {number} with a record")
    path = checkpoint_of(study, number)
    config = search_config_of(study)
    return PointSource(SourceKind.STUDY_POINT, f"study {study.study_name} trial {number}", path, record.candidate,
                       f"trial {number}'s record", load_checkpoint(path).run, study.study_name, number,
                       config.profile, record, _search_data(config))


def _from_checkpoint(value: str) -> PointSource:
    path = resolve_init_checkpoint(value)
    ckpt = load_checkpoint(path)
    if not any(k.startswith(DSL_PREFIXES) for k in ckpt.model):  # a shipped base: no DSL weights at all
        candidate = ckpt.run.candidate.with_dsl(threshold=INERT_THRESHOLD)
        label = value if value.startswith(PREFIX) else _shipped_name(path) or value
        return PointSource(SourceKind.PRETRAINED, value, path, candidate, "base codec: full path only (DSL inert)",
                           ckpt.run, eval_data=_base_space_data(label))
    if value.startswith(PREFIX):
        raise UserError(f"{value}: a shipped base must hold no DSL weights, {path} does")
    found = _recorded_trial(path, ckpt)
    if found is not None:
        return found
    return PointSource(SourceKind.CHECKPOINT, value, path, ckpt.run.candidate, "the checkpoint's candidate", ckpt.run)


def _recorded_trial(path: Path, ckpt: Checkpoint) -> PointSource | None:
    """The trained trial whose checkpoint ``path`` is, when the file lies in a study of the default layout."""
    from dslnas.search.pareto import search_config_of
    from dslnas.search.records import parent_of, record_from_trial
    from dslnas.search.storage import default_storage_path, load_existing_study

    resolved = path.resolve()
    if len(resolved.parts) < 5 or resolved.parent.parent.name != "trials":
        return None
    study_root = resolved.parent.parent.parent
    if not default_storage_path(study_root.name, study_root.parent).is_file():
        return None
    study = load_existing_study(None, study_root.name, study_root.parent)
    for trial in study.get_trials(deepcopy=False):
        record = record_from_trial(trial)
        if (record is not None and parent_of(trial) is None and record.checkpoint
                and _same_file(record.checkpoint, resolved)):
            candidate = ckpt.run.candidate.with_dsl(threshold=record.threshold)
            config = search_config_of(study)
            return PointSource(SourceKind.CHECKPOINT, str(path), path, candidate, f"trial {trial.number}'s record",
                               ckpt.run, study.study_name, trial.number, config.profile, record, _search_data(config))
    return None


def _shipped_name(path: Path) -> str | None:
    """``pretrained:NAME`` when ``path`` is a shipped base's file."""
    from dslnas.trainers.pretrained import PRETRAINED

    return next((PREFIX + name for name, base in PRETRAINED.items() if _same_file(str(base.path), path.resolve())), None)


def _same_file(recorded: str, resolved: Path) -> bool:
    try:
        return Path(recorded).resolve() == resolved
    except OSError:
        return False
