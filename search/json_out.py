"""JSON for scripts and files: NaN and infinities (not valid JSON) are written as null."""

from __future__ import annotations

import json
import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float inside dicts/lists/tuples replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Indented, strict JSON (``default=str`` for paths and dates)."""
    return json.dumps(json_safe(value), indent=2, default=str, allow_nan=False)
