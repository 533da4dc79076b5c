"""The project's rendered sample plates pasted small into a made-up scene: a labelled photo set of far plates that
needs no real photo.

Usage: python scripts/pasted_samples.py --out /tmp/pasted

Each plate of ``samples/`` is pasted 36 to 80 px wide (10 widths) and half as tall into the 960 x 720 scene of
``tests/photos.py``, once sharp and once blurred (Gaussian, sigma 1): 180 photos, written as PNG (lossless, so that
a reading does not depend on JPEG) with a ``labels.tsv`` for ``twplate eval-photos`` and
``benchmarks/photo_rules.py``. docs/photos.md, "Small plates", measures the closer look and the votes on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from photos import SAMPLES, paste_plate  # noqa: E402  (the tests' scene, so that tests and this set agree)

WIDTHS = np.linspace(36, 80, 10)
"""Plate widths in pixels: far plates, as dash-cam frames show them."""
BLUR_SIGMA = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for line in (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines():
        sample, plate = line.split("\t")
        for width in WIDTHS:
            top_left = np.float32([480.0, 360.0])
            corners = top_left + np.float32([(0, 0), (width, 2), (width - 1, 2 + width / 2), (-1, width / 2)])
            for blurred in (False, True):
                photo = paste_plate(Path(sample).name, [tuple(map(float, c)) for c in corners])
                if blurred:
                    photo = cv2.GaussianBlur(photo, (0, 0), BLUR_SIGMA)
                name = f"{Path(sample).stem}_w{width:.0f}{'_blurred' if blurred else ''}.png"
                cv2.imwrite(str(args.out / name), photo)
                rows.append(f"{name}\t{plate}\n")
    (args.out / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    print(f"{len(rows)} photos in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
