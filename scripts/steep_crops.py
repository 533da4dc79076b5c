"""How reading narrow crops through the text detector (``PhotoReader.read_crops``) changes accuracy.

Usage: python scripts/steep_crops.py [--model DIR] by-aspect LABEL_FILE
       python scripts/steep_crops.py [--model DIR] hung PHOTO_LABELS [--angles 0,20,25,35,50]

``by-aspect``: each crop of a label file is read as ``PlateRecognizer`` reads it and as a photo
(``PhotoReader``: detector, upright cut of each text line, plate rules). For each aspect limit, the
table gives the share of crops narrower than it and what keeping the more confident plate reading
for those crops wins and loses against the crop reading alone: the measurement behind
``twplate.photo.STEEP_CROP_ASPECT``, taken on the train crops.

``hung``: every labelled plate the photo reader finds and reads right in a photo (``twplate
eval-photos`` labels), its whole plate (the number line's box grown by half its height left and right
and a third above and below) turned by each angle, either way, about its centre and cut out by its
axis-aligned bounding box, as a plate detector with upright boxes cuts a hanging plate. Each crop is
read by ``recognize()``'s pipeline and by ``read_crops``. docs/accuracy.md, section 6.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from twplate.image import load_image
from twplate.photo import STEEP_CROP_ASPECT, PhotoReader
from twplate.photo_eval import read_labels
from twplate.recognizer import PlateRecognizer
from twplate.training.dataset import read_label_file

LIMITS = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0, float("inf"))
PLATE_AROUND_LINE = (0.5, 0.35)
"""The whole plate around its number line's box, in the line's heights: (left and right, above and below)."""


def by_aspect(reader: PhotoReader, label_file: Path) -> None:
    samples = read_label_file(label_file)
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


def hung_crop(photo: np.ndarray, line: np.ndarray, angle: float) -> np.ndarray:
    """The plate around the number line ``line`` (4 corners, clockwise from its top-left), turned ``angle``
    degrees about its centre in ``photo``, cut out by its axis-aligned bounding box."""
    tl, tr, br, bl = line
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    right, down = (tr - tl) / np.linalg.norm(tr - tl), (bl - tl) / np.linalg.norm(bl - tl)
    side, above = PLATE_AROUND_LINE[0] * height * right, PLATE_AROUND_LINE[1] * height * down
    plate = np.float32([tl - side - above, tr + side - above, br + side + above, bl - side + above])
    centre = plate.mean(0)
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, 1.0)
    turned = cv2.warpAffine(photo, turn, (photo.shape[1], photo.shape[0]), borderMode=cv2.BORDER_REFLECT)
    corners = cv2.transform(plate[None], turn)[0]
    (x0, y0), (x1, y1) = np.maximum(np.floor(corners.min(0)), 0).astype(int), np.ceil(corners.max(0)).astype(int)
    return turned[y0:y1, x0:x1]


def hung(reader: PhotoReader, photo_labels: Path, angles: list[float]) -> None:
    crops: dict[float, list[tuple[np.ndarray, str]]] = {angle: [] for angle in angles}
    found = 0
    for entry in read_labels(photo_labels):
        photo = load_image(entry.path)
        for plate in reader(photo):
            if plate.text in entry.plates:
                found += 1
                for angle in angles:
                    crops[angle] += [(hung_crop(photo, np.float32(plate.box), turn), plate.text)
                                     for turn in sorted({angle, -angle})]
    print(f"{found} plates found and read right in {photo_labels}; each turned by every angle, both ways")
    print(f"angle\tcrops\tnarrower than {STEEP_CROP_ASPECT}\trecognize()\tread_crops\tlost")
    for angle in angles:
        images, expected = [c for c, _ in crops[angle]], [t for _, t in crops[angle]]
        plain = [r.text for r in reader.recognizer.run_many(images)]
        straightened = [r.text for r in reader.read_crops(images)]
        narrow = sum(c.shape[1] < STEEP_CROP_ASPECT * c.shape[0] for c in images)
        lost = sum(p == e != s for p, s, e in zip(plain, straightened, expected, strict=True))
        print(f"{angle:g}\t{len(expected)}\t{narrow}\t{sum(map(str.__eq__, plain, expected))}\t"
              f"{sum(map(str.__eq__, straightened, expected))}\t{lost}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    modes = parser.add_subparsers(dest="mode", required=True)
    modes.add_parser("by-aspect", help="crops of a label file, by aspect").add_argument("label_file", type=Path)
    hanging = modes.add_parser("hung", help="plates found in photos, hung at angles in upright-box crops")
    hanging.add_argument("photo_labels", type=Path)
    hanging.add_argument("--angles", default="0,20,25,35,50", help="degrees, comma-separated (default 0,20,25,35,50)")
    args = parser.parse_args(argv)

    reader = PhotoReader(recognizer=PlateRecognizer(args.model, backend="onnxruntime"), backend="onnxruntime")
    if args.mode == "by-aspect":
        by_aspect(reader, args.label_file)
    else:
        hung(reader, args.photo_labels, [float(a) for a in args.angles.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
