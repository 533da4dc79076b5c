"""Render the sample plates in ``samples/`` (simple OpenCV drawings, not photos).

Usage: python scripts/render_samples.py [OUT_DIR]

Black characters on a white plate with a dark border, in the 2014 layouts (``ABC-1234``) and the
older ones (``123-ABC``, ``1234-AB``). OpenCV's Hershey fonts have no CJK glyphs, so no 軍/外/使
plates here; the synthetic renderer of ``twplate.training.synth`` draws those.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

PLATES = ["ABC-1234", "RAB-5678", "MKT-0391", "123-ABC", "8861-TW", "EAA-2207"]


def render_plate(text: str, height: int = 96) -> np.ndarray:
    """A white plate with ``text`` in black, ``height`` pixels high, about 2.4:1 like a car plate."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, max(2, height // 16)
    scale = cv2.getFontScaleFromHeight(font, int(height * 0.55), thickness)
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    width = max(int(height * 2.4), tw + height // 3)
    plate = np.full((height, width, 3), 255, np.uint8)
    cv2.rectangle(plate, (2, 2), (width - 3, height - 3), (30, 30, 30), max(2, height // 32))
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(plate, text, origin, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)
    return plate


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(PLATES):
        name = f"plate_{i:02d}.png"
        cv2.imwrite(str(out / name), render_plate(text))
        rows.append(f"{name}\t{text}\n")
    (out / "labels.tsv").write_text("".join(rows), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "samples")
