"""Harder copies of labelled street photos, for measuring a detector where the shared photos are easy.

Usage: python scripts/photo_stress.py ../shared/data/scenes/labels.tsv --out /tmp/stress
           [--sources xiujiechan,jamesyeh_img,dlhw06]

The shared scenes are close, frontal, daylight phone photos. Held-out photos from other cameras are
not (dash-cam frames with small, angled plates; night). Each photo of ``--sources`` (all when empty)
is written again as:

- ``as_is``: unchanged (its labels file points at the original);
- ``far50``, ``far30``: shrunk to 50% and 30% of its size: plates as far away as a dash-cam sees them;
- ``angled``: turned 35 to 45 degrees about the vertical axis (perspective), as from a kerb-side camera;
- ``tilted``: rotated 30 to 60 degrees in the image plane, either way, as a scooter plate hangs from one
  screw; the canvas grows so that nothing is cut off;
- ``night``: dark, with sensor noise and a warm cast, as a street lamp lights it;
- ``blurred``: motion blur over 0.6 to 1.2% of the photo's width, then JPEG at quality 25 to 45, as a
  moving dash-cam records;
- ``dashcam_far``, ``dashcam_mid``, ``dashcam_near``: the photos of at least 1000 px, shrunk to 6-9%, 9-12% and
  12-30% of their size and placed at random in a grey 1920 x 1080 frame: small plates in a dash-cam frame, which
  the detector's input limit shrinks further;
- ``mosaic2``, ``mosaic4``: the photos of at least 1500 px, 2 x 2 and 4 x 4 to a 4032 x 3024 canvas (a
  12-megapixel phone photo), each shrunk to its cell: many small plates in a big photo, where the
  detector's input limit shrinks the photo while the plates' detail is still in it.

Each folder gets a ``labels.tsv`` for ``twplate eval-photos``. Seeded: the same photos every time.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from twplate.image import load_image
from twplate.image_header import read_header
from twplate.photo_eval import DOUBT_MARK, PhotoLabels, read_labels


def shrink(factor: float) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    def apply(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = image.shape[:2]
        return cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_AREA)
    return apply


def angled(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A perspective turn about the vertical axis: the far side shrinks and the photo narrows."""
    h, w = image.shape[:2]
    yaw = np.radians(rng.uniform(35, 45))
    narrow = np.cos(yaw)
    far = 1 - 0.5 * np.sin(yaw)  # the far edge's height relative to the near edge
    new_w = w * narrow
    near_left = rng.random() < 0.5
    top_far, bottom_far = h * (1 - far) / 2, h * (1 + far) / 2
    if near_left:
        dst = [[0, 0], [new_w, top_far], [new_w, bottom_far], [0, h]]
    else:
        dst = [[0, top_far], [new_w, 0], [new_w, h], [0, bottom_far]]
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), np.float32(dst))
    return cv2.warpPerspective(image, matrix, (round(new_w), h), flags=cv2.INTER_AREA)


def tilted(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rotated 30 to 60 degrees either way about the photo's centre, on a canvas grown to hold all of it."""
    h, w = image.shape[:2]
    angle = rng.uniform(30, 60) * rng.choice([-1, 1])
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = round(w * cos + h * sin), round(w * sin + h * cos)
    matrix[:, 2] += [(new_w - w) / 2, (new_h - h) / 2]
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_AREA, borderValue=(110, 110, 110))


def night(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dark = (image.astype(np.float32) / 255.0) ** rng.uniform(2.0, 2.6) * rng.uniform(0.25, 0.4) * 255
    dark *= np.float32([0.8, 0.95, 1.1])  # BGR: a sodium lamp's warm cast
    dark += rng.normal(0, rng.uniform(4, 8), dark.shape)
    return np.clip(dark, 0, 255).astype(np.uint8)


def blurred(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A straight motion blur within 20 degrees of horizontal, then saved as a low-quality JPEG."""
    length = max(3, round(rng.uniform(0.006, 0.012) * image.shape[1]))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1
    centre = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, rng.uniform(-20, 20), 1.0), (length, length))
    smeared = cv2.filter2D(image, -1, kernel / kernel.sum())
    _, encoded = cv2.imencode(".jpg", smeared, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 46))])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


VARIANTS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "far50": shrink(0.5), "far30": shrink(0.3), "angled": angled, "tilted": tilted, "night": night,
    "blurred": blurred}


DASHCAM_SIZE = (1920, 1080)
DASHCAM_MIN_SIDE = 1000
DASHCAM_SCALES = {"dashcam_far": (0.06, 0.09), "dashcam_mid": (0.09, 0.12), "dashcam_near": (0.12, 0.30)}


def dashcam(scale: tuple[float, float]) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """The photo shrunk by a factor drawn from ``scale``, at a random place in a grey :data:`DASHCAM_SIZE` frame."""
    def apply(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        width, height = DASHCAM_SIZE
        frame = np.full((height, width, 3), 110, np.uint8)
        factor = rng.uniform(*scale)
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        y, x = int(rng.integers(0, height - sh + 1)), int(rng.integers(0, width - sw + 1))
        frame[y : y + sh, x : x + sw] = small
        return frame
    return apply


MOSAIC_SIZE = (4032, 3024)
MOSAIC_MIN_SIDE = 1500
MOSAIC_GRIDS = (2, 4)


def mosaic(photos: list[PhotoLabels], grid: int, rng: np.random.Generator) -> list[tuple[np.ndarray, list[str]]]:
    """The photos, shuffled, ``grid`` x ``grid`` to a grey :data:`MOSAIC_SIZE` canvas (a partial last canvas
    is dropped), each shrunk to fit its cell (never enlarged); each canvas with the plates of its photos."""
    width, height = MOSAIC_SIZE
    cell_w, cell_h = width // grid, height // grid
    order = rng.permutation(len(photos))
    canvases = []
    for start in range(0, len(order) - grid * grid + 1, grid * grid):
        canvas, plates = np.full((height, width, 3), 110, np.uint8), []
        for k, index in enumerate(order[start : start + grid * grid]):
            image = load_image(photos[index].path)
            h, w = image.shape[:2]
            scale = min(1.0, cell_w / w, cell_h / h)
            cell = cv2.resize(image, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
            y, x = (k // grid) * cell_h, (k % grid) * cell_w
            canvas[y : y + cell.shape[0], x : x + cell.shape[1]] = cell
            plates += labels_of(photos[index])
        canvases.append((canvas, plates))
    return canvases


def longest_side(path: Path) -> int:
    """The photo's longest side in pixels, from its header where the format has one (no decoding)."""
    header = read_header(path.read_bytes())
    return max(header.width, header.height) if header else max(load_image(path).shape[:2])


def labels_of(photo: PhotoLabels) -> list[str]:
    """A photo's labels as its labels file gives them: the plates, and the doubtful ones with their mark."""
    return [*photo.plates, *(f"{plate}{DOUBT_MARK}" for plate in photo.doubtful)]


def write_set(folder: Path, photos: list[tuple[np.ndarray, list[str]]]) -> None:
    """``photos`` as JPEGs in ``folder``, with the ``labels.tsv`` ``twplate eval-photos`` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (image, plates) in enumerate(photos):
        file = f"{i:04d}.jpg"
        cv2.imwrite(str(folder / file), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows += [f"{file}\t{plate}\n" for plate in plates or [""]]
    (folder / "labels.tsv").write_text("".join(rows), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--sources", default="", help="comma-separated first folders of the photos to use")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sources = {s for s in args.sources.split(",") if s}
    photos = [p for p in read_labels(args.labels)
              if not sources or p.path.relative_to(args.labels.parent).parts[0] in sources]
    (args.out / "as_is").mkdir(parents=True, exist_ok=True)
    (args.out / "as_is" / "labels.tsv").write_text(
        "".join(f"{p.path.resolve()}\t{plate}\n" for p in photos for plate in labels_of(p) or [""]), encoding="utf-8")
    for name, variant in VARIANTS.items():
        rng = np.random.default_rng(args.seed)
        write_set(args.out / name, [(variant(load_image(p.path), rng), labels_of(p)) for p in photos])
    framed = [p for p in photos if longest_side(p.path) >= DASHCAM_MIN_SIDE]
    for name, scale in DASHCAM_SCALES.items():
        rng = np.random.default_rng(args.seed)
        write_set(args.out / name, [(dashcam(scale)(load_image(p.path), rng), labels_of(p)) for p in framed])
    big = [p for p in photos if longest_side(p.path) >= MOSAIC_MIN_SIDE]
    for grid in MOSAIC_GRIDS:
        write_set(args.out / f"mosaic{grid}", mosaic(big, grid, np.random.default_rng(args.seed)))
    print(f"{len(photos)} photos x {1 + len(VARIANTS)} variants, {len(framed)} in dash-cam frames and {len(big)} in "
          f"mosaics in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
