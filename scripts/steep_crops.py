"""How reading narrow crops through the text detector changes accuracy, by the crops' aspect.

Usage: python scripts/steep_crops.py LABEL_FILE [--model DIR]

Each crop is read as ``PlateRecognizer`` reads it and as a photo (``PhotoReader``: detector, upright
crop of each text line, plate rules). For each aspect limit, the table gives the share of crops
narrower than it and what keeping the more confident plate reading for those crops wins and loses
against the crop reading alone: the measurement behind ``twplate.photo.STEEP_CROP_ASPECT``, taken on
the train crops (docs/accuracy.md, section 6).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from twplate.image import load_image
from twplate.photo import PhotoReader
from twplate.recognizer import PlateRecognizer
from twplate.training.dataset import read_label_file

LIMITS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0, float("inf"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("label_file", type=Path)
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    args = parser.parse_args(argv)

    reader = PhotoReader(recognizer=PlateRecognizer(args.model, backend="onnxruntime"), backend="onnxruntime")
    samples = read_label_file(args.label_file)
    images = [load_image(s.path) for s in samples]
    as_crops = reader.recognizer.run_many(images)
    as_photos = reader.run_many(images)
    print("aspect below\tcrops\tshare\twon\tlost")
    for limit in LIMITS:
        chosen = [i for i, image in enumerate(images) if image.shape[1] < limit * image.shape[0]]
        # the photo's most confident plate replaces the crop's reading where it is more confident
        switched = [i for i in chosen if as_photos[i] and as_photos[i][0].confidence > as_crops[i].confidence]
        won = sum(as_photos[i][0].text == samples[i].label != as_crops[i].text for i in switched)
        lost = sum(as_crops[i].text == samples[i].label != as_photos[i][0].text for i in switched)
        print(f"{limit}\t{len(chosen)}\t{len(chosen) / len(samples):.1%}\t{won}\t{lost}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
