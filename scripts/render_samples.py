"""Render the sample plates in ``samples/`` with twplate's own synthetic plate generator.

Usage: python scripts/render_samples.py [--glyphs ../shared/data/glyphs] [--out samples]

One plate of each common kind and three special plates (試 使 外), from a fixed seed; images the
project renders itself, not photos. Needs the ``train`` extra, a glyph folder and a CJK font
(see ``twplate synth --help``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from twplate.training.synth import Generator

SEED = 20261124
KINDS = ("car2014", "moto2014", "scooter_old", "car1992", "ev2014", "small1992", "test", "diplomat", "foreign")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glyphs", type=Path, default=Path("../shared/data/glyphs"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples")
    args = parser.parse_args()
    generator = Generator(args.glyphs, kinds=",".join(KINDS))
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.*"):
        old.unlink()
    rows = []
    for i, kind in enumerate(KINDS):
        label, image, _ = generator.sample(SEED, i, kind)
        name = f"{i:02d}_{kind}.jpg"
        cv2.imwrite(str(args.out / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        rows.append(f"{name}\t{label}\n")
    (args.out / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    print(f"{len(rows)} samples -> {args.out}")


if __name__ == "__main__":
    main()
