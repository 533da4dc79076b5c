"""Contact sheet of the training augmentations on the rendered sample plates (synthetic, never real crops).

Usage: python scripts/augment_sheet.py [--out docs/augment_contact_sheet.jpg] [--seed 0]

Rows: the plates of ``samples/``; columns: the plate as rendered, then each augmentation of
:mod:`twplate.training.augment` alone (``turn``, ``tilt``, ``occlude``, ``low_light``, ``degrade`` at
full strength, ``far``: shrunk to a far plate's 14-30 px and saved as a low-quality JPEG, shown enlarged as
training enlarges it), then three draws of ``augment`` as training applies it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from twplate.image import load_image
from twplate.training.augment import augment, degrade, far, low_light, occlude, tilt, turn

REPO = Path(__file__).resolve().parents[1]
COLUMNS = {
    "rendered": lambda img, rng: img,
    "turn": turn,
    "tilt": tilt,
    "occlude": occlude,
    "low_light": low_light,
    "degrade 0.7": lambda img, rng: degrade(rng, img, 0.7),
    "far": far,
    "augment": augment,
    "augment ": augment,
    "augment  ": augment,
}
CELL = (160, 56)  # width, height of each cell


def cell(img: np.ndarray) -> np.ndarray:
    """``img`` scaled to fit a cell, centred on grey."""
    w, h = CELL
    scale = min(w / img.shape[1], h / img.shape[0])
    fitted = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))))
    out = np.full((h + 6, w + 6, 3), 128, np.uint8)
    y, x = (h + 6 - fitted.shape[0]) // 2, (w + 6 - fitted.shape[1]) // 2
    out[y : y + fitted.shape[0], x : x + fitted.shape[1]] = fitted
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "augment_contact_sheet.jpg")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    header = np.full((24, (CELL[0] + 6) * len(COLUMNS), 3), 255, np.uint8)
    for k, name in enumerate(COLUMNS):
        cv2.putText(header, name.strip(), (k * (CELL[0] + 6) + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    rows = [header]
    for path in sorted((REPO / "samples").glob("*.jpg")):
        plate = load_image(path)
        rows.append(np.hstack([cell(fn(plate, rng)) for fn in COLUMNS.values()]))
    cv2.imwrite(str(args.out), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 90])  # noise makes a PNG of it 1 MB
    print(f"{len(rows) - 1} plates x {len(COLUMNS)} columns -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
