"""Where twplate keeps files it builds or fetches (TensorRT engines, pretrained weights)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$TWPLATE_CACHE/<parts>`` (``~`` expanded), or ``~/.cache/twplate/<parts>`` when the variable is unset or
    empty."""
    root = os.environ.get("TWPLATE_CACHE") or Path.home() / ".cache" / "twplate"
    return Path(root).expanduser().joinpath(*parts)
