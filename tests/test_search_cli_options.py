"""``dslnas search --eval-clip-seconds`` and the ETA text that search and evaluate share (issue 26, small ones)."""

from __future__ import annotations

import pytest

from dslnas.search.cli.common import eta_text
from dslnas.search.cli.search import _user_data
from dslnas.spaces.errors import UserError
from dslnas.spaces.space_presets import demo_space


def test_eta_text_from_the_time_per_item_so_far() -> None:
    assert eta_text(10.0, 2, 4) == "eta 10s"
    assert eta_text(10.0, 0, 4) == "eta ?"
    assert eta_text(65.0, 4, 4) == "done in 1m05s"


def test_eval_clip_seconds_sets_the_searchs_cut() -> None:
    space = demo_space()
    assert _user_data(None, space) is None  # the space's data, unchanged
    assert _user_data(None, space, 3.0).eval_clip_seconds == 3.0
    assert _user_data(None, space, 0.0).eval_clip_seconds is None  # whole clips
    assert _user_data(None, space, 3.0).eval_fraction == space.finetune.data.eval_fraction
    with pytest.raises(UserError, match="--eval-clip-seconds must be 0"):
        _user_data(None, space, 0.5)
