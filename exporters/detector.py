"""``python -m exporters.detector --out models/twplate-det``: the shipped text detector's model directory.

The detector is PP-OCRv4 det (DBNet, PaddleOCR, Apache-2.0) as the PyPI wheel
``rapidocr_onnxruntime==1.4.4`` ships it, fetched with ``pip download --no-deps`` and checked by
sha256 (:func:`twplate.training.wheels.wheel_member`). The ONNX file is copied byte for byte, so
anyone can check it against the wheel; ``inference.yml`` records its input policy and checksum.
No wheel ships PP-OCR det as a Paddle inference model, so the directory has ONNX only.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from twplate.detect.preprocess import DetectPreprocessConfig
from twplate.model_files import DEFAULT_DETECTOR, ONNX_FILE, load_detector_spec, write_detector_yaml
from twplate.training.wheels import wheel_member

DETECTOR_WHEEL = "rapidocr_onnxruntime==1.4.4"
DETECTOR_MEMBER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
DETECTOR_SHA256 = "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
DETECTOR_VERSION = "1.0.0"
DETECTOR_INPUT = DetectPreprocessConfig(limit_side=1280, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
"""Normalisation as RapidOCR feeds this file; the size limit is twplate's (``docs/photos.md``, "Input size")."""


def build(out: Path, preprocess: DetectPreprocessConfig = DETECTOR_INPUT) -> Path:
    """Write ``out/inference.onnx`` and ``out/inference.yml``, load the result, and return ``out``."""
    source = wheel_member(DETECTOR_WHEEL, DETECTOR_MEMBER, DETECTOR_SHA256)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, out / ONNX_FILE)
    write_detector_yaml(out, DEFAULT_DETECTOR, DETECTOR_VERSION, preprocess)
    load_detector_spec(out).require([ONNX_FILE])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m exporters.detector", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models") / DEFAULT_DETECTOR)
    parser.add_argument("--limit-side", type=int, default=DETECTOR_INPUT.limit_side,
                        help="longest side of the detector input, in pixels (a multiple of 32)")
    args = parser.parse_args(argv)
    print(build(args.out, DetectPreprocessConfig(args.limit_side, DETECTOR_INPUT.mean, DETECTOR_INPUT.std)))


if __name__ == "__main__":
    main()
