"""``python -m exporters.detector CHECKPOINT --version V``: the plate detector's model directory.

The detector is PP-OCRv3 det (DBNet, PaddleOCR, Apache-2.0) as :mod:`twplate.training.det` trains it:
``CHECKPOINT`` is a ``twplate train -c configs/twplate_det.yml`` checkpoint (``.pdparams``), or
``pretrained`` for the public weights as the PyPI wheel ``rapidocr_onnxruntime==1.2.3`` ships them
(fetched with ``pip download --no-deps``, checked by sha256).

The checkpoint is saved as a Paddle inference model (``inference.json`` + ``inference.pdiparams``,
batch, height and width dynamic) and converted to ``inference.onnx`` by paddle2onnx. Each step is
checked on rendered text before the directory is written: the Paddle model against the checkpoint,
and ONNX Runtime against Paddle, the same probability map (within :data:`PARITY_ATOL`) and the same
boxes. ``inference.yml`` records the input policy and every file's checksum.
Needs ``twplate[paddle,onnx,export]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from twplate.detect.postprocess import boxes_from_map
from twplate.detect.preprocess import PPOCR_MEAN, PPOCR_STD, DetectPreprocessConfig, detector_input
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

from . import reports_bad_input
from .to_onnx import convert_to_onnx
from .to_paddle import export_paddle
from .verify import ExportMismatch

DETECTOR_INPUT = DetectPreprocessConfig(limit_side=1600, mean=PPOCR_MEAN, std=PPOCR_STD)
"""Normalisation as the detector was trained with; the size limit is twplate's (``docs/photos.md``, "Input size")."""
PARITY_ATOL = 5e-4
"""Largest probability difference allowed between two forms of the model. Float32 kernels that fuse and
order operations differently (oneDNN against Paddle's dygraph against ONNX Runtime) reach ~2e-4 after the
detector's 60 layers; the map is only thresholded (0.3) and averaged into box scores, and the boxes must
come out the same as well."""

Detect = Callable[[np.ndarray], np.ndarray]


def build(out: Path, checkpoint: str, version: str, preprocess: DetectPreprocessConfig = DETECTOR_INPUT) -> Path:
    """Export ``checkpoint`` to ONNX and Paddle files with ``inference.yml`` in ``out``, checked; return ``out``.

    A failed export or check leaves ``out`` untouched; other files there (the model card) are kept.
    """
    from twplate.backends.paddle import PaddleBackend
    from twplate.training.checkpoint import CheckpointBackend
    from twplate.training.det.model import load_detector

    with tempfile.TemporaryDirectory(prefix="twplate-detector-") as tmp:
        staging = Path(tmp)
        model = load_detector(checkpoint)
        export_paddle(model, staging, height=None)
        convert_to_onnx(staging)
        write_detector_yaml(staging, DEFAULT_DETECTOR, version, preprocess)
        spec = load_detector_spec(staging)
        exported = check_agree(CheckpointBackend(model), PaddleBackend(spec, threads=1, device="cpu"), preprocess,
                               "Paddle inference model vs checkpoint")
        converted = check_backends_agree(spec)
        print(f"checked: Paddle inference vs checkpoint max diff {exported:.1e}; ONNX Runtime vs Paddle "
              f"{converted:.1e}; same boxes")
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


def compare(reference: Detect, candidate: Detect, preprocess: DetectPreprocessConfig,
            photos: Iterable[tuple[str, np.ndarray]]) -> Agreement:
    """Run two forms of a detector over ``(name, BGR photo)`` pairs and compare their maps and boxes."""
    found = Agreement()
    for name, photo in photos:
        x = detector_input(photo, preprocess)[None]
        ref, got = reference(x), candidate(x)
        if ref.shape != got.shape:
            raise ExportMismatch(f"output shape {got.shape}, the reference gives {ref.shape} for {x.shape}")
        found.photos += 1
        found.max_diff = max(found.max_diff, float(np.abs(ref - got).max()))
        ref_boxes, got_boxes = (boxes_from_map(m[0, 0], photo.shape[:2]) for m in (ref, got))
        found.boxes += len(ref_boxes)
        if len(ref_boxes) == len(got_boxes) and all(
                np.allclose(a.points, b.points, atol=0.5) and abs(a.score - b.score) < 1e-3
                for a, b in zip(ref_boxes, got_boxes, strict=True)):
            found.same_boxes += 1
        else:
            found.differing.append(f"{name}: {len(got_boxes)} boxes, {len(ref_boxes)} in the reference")
    return found


def compare_backends(spec: DetectorSpec, photos: Iterable[tuple[str, np.ndarray]]) -> Agreement:
    """:func:`compare` ONNX Runtime (the reference) and Paddle Inference (CPU, 1 thread each) on ``spec``."""
    from twplate.backends.onnx import OnnxBackend
    from twplate.backends.paddle import PaddleBackend

    return compare(OnnxBackend(spec, threads=1), PaddleBackend(spec, threads=1, device="cpu"), spec.preprocess, photos)


def check_agree(reference: Detect, candidate: Detect, preprocess: DetectPreprocessConfig, what: str,
                atol: float = PARITY_ATOL) -> float:
    """Raise :class:`ExportMismatch` unless both give the same maps (within ``atol``) and the same boxes on
    :func:`probe_photos`; return the largest probability difference."""
    found = compare(reference, candidate, preprocess,
                    ((f"probe {i}", photo) for i, photo in enumerate(probe_photos())))
    if found.max_diff > atol or found.differing or not found.boxes:
        raise ExportMismatch(f"{what}: max probability difference {found.max_diff:.2e} (limit {atol:.0e}); "
                             f"{found.boxes} boxes in the reference; differing: {found.differing}")
    return found.max_diff


def check_backends_agree(spec: DetectorSpec, atol: float = PARITY_ATOL) -> float:
    """:func:`check_agree` for ONNX Runtime (the reference) and Paddle Inference on ``spec``."""
    from twplate.backends.onnx import OnnxBackend
    from twplate.backends.paddle import PaddleBackend

    return check_agree(OnnxBackend(spec, threads=1), PaddleBackend(spec, threads=1, device="cpu"), spec.preprocess,
                       "Paddle detector vs ONNX Runtime", atol)


def photos_in(folder: Path) -> Iterator[tuple[str, np.ndarray]]:
    """``(relative path, BGR photo)`` of every JPEG and PNG under ``folder``, in name order."""
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        yield str(path.relative_to(folder)), load_image(path)


@reports_bad_input("python -m exporters.detector")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.detector", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="a detector checkpoint (.pdparams), or 'pretrained'")
    parser.add_argument("--version", help="the model's version (inference.yml)")
    parser.add_argument("--out", type=Path, default=Path("models") / DEFAULT_DETECTOR)
    parser.add_argument("--limit-side", type=int, default=DETECTOR_INPUT.limit_side,
                        help="longest side of the detector input, in pixels (a multiple of 32)")
    parser.add_argument("--compare-on", type=Path, metavar="FOLDER",
                        help="build nothing: compare the detector in --out on both backends over the photos in FOLDER")
    args = parser.parse_args(argv)
    if args.compare_on is not None:
        found = compare_backends(load_detector_spec(args.out), photos_in(args.compare_on))
        print(f"{found.photos} photos: probability map max diff {found.max_diff:.1e}; same boxes on "
              f"{found.same_boxes} ({found.boxes} boxes on onnxruntime)", *found.differing, sep="\n")
        return 0
    if not (args.checkpoint and args.version):
        parser.error("give a CHECKPOINT and --version to export (or --compare-on FOLDER)")
    preprocess = DetectPreprocessConfig(args.limit_side, DETECTOR_INPUT.mean, DETECTOR_INPUT.std)
    print(build(args.out, args.checkpoint, args.version, preprocess))
    return 0


if __name__ == "__main__":
    sys.exit(main())
