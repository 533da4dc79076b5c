"""Plate-like images drawn with OpenCV for tests (no data files, no CJK), and where the synthetic plates'
glyph folder is for the tests that render them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

GLYPHS = Path(os.environ.get("TWPLATE_GLYPHS") or Path(__file__).resolve().parents[2] / "shared" / "data" / "glyphs")
needs_glyphs = pytest.mark.skipif(not (GLYPHS / "plates_2014").is_dir(),
                                  reason=f"glyph folder {GLYPHS} not available")


def draw_plate(text: str, height: int = 96, aspect: float = 2.4) -> np.ndarray:
    """Black ``text`` on a white ``height`` x ``height * aspect`` BGR plate."""
    width = int(height * aspect)
    img = np.full((height, width, 3), 255, np.uint8)
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(2, height // 16)
    scale = cv2.getFontScaleFromHeight(font, int(height * 0.55), thickness)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    scale *= min(1.0, (width - height // 4) / tw)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(img, text, ((width - tw) // 2, (height + th) // 2), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return img


def random_plates(n: int, seed: int) -> list[str]:
    """``AAA-9999`` strings without I, O or 4, as on 2014 plates."""
    rng = np.random.default_rng(seed)
    letters, digits = "ABCDEFGHJKLMNPQRSTUVWXYZ", "012356789"
    return ["".join(rng.choice(list(letters), 3)) + "-" + "".join(rng.choice(list(digits), 4)) for _ in range(n)]


def write_plate_set(root: Path, seed: int, count: int = 32, val: int = 8) -> None:
    """``count`` drawn plates of varied aspect in ``root`` with ``train.tsv`` (all) and ``val.tsv`` (the first
    ``val``): a training set small enough for a few steps in a test."""
    lines = []
    for i, text in enumerate(random_plates(count, seed=seed)):
        cv2.imwrite(str(root / f"{i:02d}.png"), draw_plate(text, height=64, aspect=2.0 + (i % 4) * 0.3))
        lines.append(f"{i:02d}.png\t{text}\n")
    (root / "train.tsv").write_text("".join(lines), encoding="utf-8")
    (root / "val.tsv").write_text("".join(lines[:val]), encoding="utf-8")
