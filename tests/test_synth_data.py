"""``data.kind: synth``: a corpus spoken on this machine once, cached, split speaker-disjoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from dslnas.spaces.run_config import DataConfig
from dslnas.trainers.data import load_dataset, train_eval_split


def test_a_synth_corpus_is_made_once_and_read_from_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    cfg = DataConfig(kind="synth", synth_minutes=0.3, seed=5, eval_fraction=0.34)
    clips = load_dataset(cfg, 16_000, 400)
    assert {c.label for c in clips} == {"speech", "silence"}
    (folder,) = tmp_path.glob("corpus-0.3min-seed5-*")
    made = (folder / "manifest.csv").stat().st_mtime_ns
    again = load_dataset(cfg, 16_000, 400)
    assert [c.clip_id for c in again] == [c.clip_id for c in clips] and (folder / "manifest.csv").stat().st_mtime_ns == made
    train, held_out = train_eval_split(clips, cfg.eval_fraction, cfg.seed)
    assert held_out and not {c.speaker for c in train} & {c.speaker for c in held_out}
    assert not list(tmp_path.glob("*.partial"))


def test_the_cache_name_changes_with_the_installed_voices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dslnas.trainers.data import datasets
    from dslnas.trainers.data.voices import VOICES, available_voices

    monkeypatch.setenv("DSLNAS_CACHE", str(tmp_path))
    six, seven, none = (datasets.synth_cache_dir(2.0, 1, voices) for voices in (VOICES[:6], VOICES[:7], ()))
    assert len({six, seven, none}) == 3 and six.name.startswith("corpus-2min-seed1-")
    assert datasets.synth_cache_dir(2.0, 1, ()) == none and datasets.synth_cache_dir(3.0, 1, ()) != none
    assert datasets.synth_cache_dir(2.0, 1) == datasets.synth_cache_dir(2.0, 1, available_voices())


def test_a_synthesiser_that_cannot_list_its_voices_is_an_error_not_a_smaller_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dslnas.spaces.errors import DataError
    from dslnas.trainers.data.voices import available_voices

    broken = tmp_path / "bin" / "espeak-ng"
    broken.parent.mkdir()
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(broken.parent))
    with pytest.raises(DataError, match="espeak-ng: could not list its voices"):
        available_voices()
