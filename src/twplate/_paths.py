"""Where the shipped ``models/`` and ``dict/`` folders are, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def shipped_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``shipped_path("dict", "dict_taiwan_car.txt")``.

    A wheel carries the top-level ``models/`` and ``dict/`` folders inside the package
    (``twplate/models``); an editable install or a source checkout has them at the repository root,
    two levels above ``src/twplate``. The first location that exists wins; if neither exists the
    packaged location is returned, so error messages point where an installed file would be.
    """
    packaged = _PACKAGE_DIR.joinpath(*parts)
    checkout = _PACKAGE_DIR.parents[1].joinpath(*parts)
    for candidate in (packaged, checkout):
        if candidate.exists():
            return candidate
    return packaged
