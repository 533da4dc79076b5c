"""How many plates the recognizer reads when each crop is as small as a far plate's.

Usage: python scripts/small_crops.py LABEL_FILE [--model DIR] [--heights 14,16,20,24,32] [--jpeg 75] [--save DIR]

Each crop of a label file is shrunk to each height (``twplate.training.augment.shrink``: area
interpolation, then a JPEG of ``--jpeg`` quality, as a camera saves a far plate) and read through
``PlateRecognizer``, which enlarges it to its input height as it does any crop. Prints, per height,
the plates read exactly; height 0 is the crops as they are. A plate 10-15 px tall in a dash-cam frame
gives a crop of about 14-30 px with the photo reader's margins: the far plates of docs/photos.md.

``--save DIR`` also writes the shrunk crops (PNG, so as shrunk) and ``DIR/labels.tsv``, a label file of them
all, e.g. to calibrate the small-plate reader's confidence on them (``scripts/calibrate.py --val``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from twplate.image import load_image
from twplate.recognizer import PlateRecognizer
from twplate.training.augment import shrink
from twplate.training.dataset import read_label_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("label_file", type=Path)
    parser.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    parser.add_argument("--heights", default="0,14,16,20,24,32", help="crop heights in pixels; 0: as they are")
    parser.add_argument("--jpeg", type=int, default=75, help="JPEG quality of the shrunk crops")
    parser.add_argument("--save", type=Path, help="also write the shrunk crops and their labels.tsv here")
    args = parser.parse_args()
    samples = read_label_file(args.label_file)
    images = [load_image(s.path) for s in samples]
    recognizer = PlateRecognizer(model=args.model)
    rows = []
    print("height\texact\tshare")
    for height in (int(h) for h in args.heights.split(",")):
        crops = [shrink(image, height, args.jpeg) if height else image for image in images]
        exact = sum(r.text == s.label for r, s in zip(recognizer.run_many(crops), samples, strict=True))
        print(f"{height}\t{exact}\t{exact / len(samples):.1%}")
        if args.save:
            (args.save / str(height)).mkdir(parents=True, exist_ok=True)
            for number, (crop, sample) in enumerate(zip(crops, samples, strict=True)):
                name = f"{height}/{number:05d}.png"
                cv2.imwrite(str(args.save / name), crop)
                rows.append(f"{name}\t{sample.label}\n")
    if args.save:
        (args.save / "labels.tsv").write_text("".join(rows), encoding="utf-8")


if __name__ == "__main__":
    main()
