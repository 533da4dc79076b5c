"""Where twplate keeps files it builds or fetches (TensorRT engines, pretrained weights)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$TWPLATE_CACHE/<parts>``, or ``~/.cache/twplate/<parts>`` when the variable is unset."""
    return Path(os.environ.get("TWPLATE_CACHE", Path.home() / ".cache" / "twplate"), *parts)
