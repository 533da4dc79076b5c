"""OpenVINO IR of a model, fp32 and optionally int8 (NNCF post-training quantization).

``python -m exporters.to_openvino [MODEL_DIR] --out DIR [--int8 [--input-width W] [--fp32-neck]
[--accuracy-control]]``

fp32: the model's ONNX file read by OpenVINO and saved as ``inference.xml`` + ``inference.bin``
(weights kept in fp32), with the dictionary in the IR's ``rt_info`` and an ``inference.yml`` with
checksums; checked against the ONNX file on ONNX Runtime like every export (same text, probabilities
within 1e-4: ``exporters/verify.py``).

int8 (``--int8``): ``nncf.quantize`` of the fp32 IR, calibrated on real *train* crops (never val)
and synthetic plates, each through twplate's preprocessing at its own width. ``--input-width W``
makes an int8 model that reads every crop at ``height x W`` (declared in its ``inference.yml``), calibrated
on each crop at its own width and at ``W``. ``--fp32-neck`` keeps the sequence model between the
backbone's last pooling and the CTC head (PP-OCRv3's SVTR neck) in fp32: measured on real train crops
and synthetic plates, it is the part whose quantization changes most readings. With
``--accuracy-control``, ``nncf.quantize_with_accuracy_control`` then returns layers to fp32 until
exact match on a held-out slice of real train crops (not used for calibration) drops by at most
``--max-drop``. The int8 model is named ``<name>-int8``; whether it ships is decided on real val
(``benchmarks/openvino_accuracy.py``), which this script never reads. Needs the ``openvino`` and ``nncf``
packages (``pip install -e ".[bench]"``) and the data set (``$TWPLATE_DATA`` or ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twplate import PlateRecognizer
from twplate.image import load_image
from twplate.model_files import (
    ONNX_FILE,
    OPENVINO_FILES,
    PADDLE_FILES,
    ModelSpec,
    default_model_dir,
    load_model_spec,
    write_model_yaml,
)
from twplate.preprocess import resize_normalize
from twplate.recognizer import INPUT_WIDTHS

from . import reports_bad_input
from .verify import assert_reproduces

if TYPE_CHECKING:
    import openvino

REPO = Path(__file__).resolve().parents[1]
CALIBRATION = 600
"""Real train crops to calibrate on (the first ones of ``train.tsv``)."""
HOLDOUT = 400
"""Real train crops after those, for ``--accuracy-control``'s metric."""
SYNTHETIC = 200
"""Synthetic plates added to the calibration set (all plate kinds, not only the common ones)."""
MAX_DROP = 0.003
"""Largest exact-match drop ``--accuracy-control`` accepts on the held-out train crops."""


def data_root() -> Path:
    return Path(os.environ.get("TWPLATE_DATA", REPO.parent / "shared" / "data"))


def real_train(start: int, count: int) -> tuple[list[np.ndarray], list[str]]:
    """Rows ``start .. start + count`` of ``real/train.tsv``: BGR images and labels."""
    tsv = data_root() / "real" / "train.tsv"
    if not tsv.is_file():
        raise FileNotFoundError(f"int8 calibrates on real train crops: no {tsv} (set TWPLATE_DATA)")
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[start : start + count]
    return [load_image(tsv.parent / path) for path, _ in rows], [label for _, label in rows]


def synthetic_plates(count: int, seed: int = 14) -> list[np.ndarray]:
    """``count`` plates from twplate's renderer (needs the data set's glyphs; none without them)."""
    from twplate.training.synth.fonts import SynthError
    from twplate.training.synth.generate import Generator

    try:
        generator = Generator()
    except (SynthError, OSError) as exc:
        print(f"no synthetic plates in the calibration set: {exc}", file=sys.stderr)
        return []
    return [generator.sample(seed, i)[1] for i in range(count)]


def write_fp32_ir(spec: ModelSpec, out: Path) -> ModelSpec:
    """Write ``spec``'s ONNX file as an fp32 IR model directory ``out`` (dictionary in the IR's ``rt_info``)."""
    import openvino as ov

    from twplate.backends.openvino import IR_CHARACTER_KEY

    model = ov.Core().read_model(str(spec.directory / spec.onnx_file))
    model.set_rt_info("\n".join(spec.charset.characters), IR_CHARACTER_KEY)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(out / OPENVINO_FILES[0]), compress_to_fp16=False)
    write_model_yaml(out, spec.name, spec.version, spec.charset.characters, spec.preprocess, spec.input_name,
                     spec.plate_formats, spec.calibration)
    return load_model_spec(out)


def export_fp32_ir(spec: ModelSpec, out: Path) -> float:
    """:func:`write_fp32_ir`, checked: returns the max probability difference from ONNX Runtime
    (raises :class:`~exporters.verify.ExportMismatch` beyond 1e-4 or on any other text)."""
    from twplate.backends.onnx import OnnxBackend
    from twplate.backends.openvino import OpenVinoBackend

    ir = write_fp32_ir(spec, out)
    return assert_reproduces(OnnxBackend(spec), OpenVinoBackend(ir, precision="fp32"), spec.charset.characters,
                             spec.preprocess, "OpenVINO IR (fp32)")


class CompiledBackend:
    """A compiled OpenVINO model NNCF hands to its validation function, as a twplate backend."""

    name = "openvino"
    width_buckets = None
    providers = ["CPU"]

    def __init__(self, compiled) -> None:
        self._request = compiled.create_infer_request()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._request.infer({0: x})
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)


def exact_match(reader: PlateRecognizer, images: Sequence[np.ndarray], labels: Sequence[str]) -> float:
    return sum(r.text == label for r, label in zip(reader(list(images)), labels, strict=True)) / len(labels)


def neck_layers(model: openvino.Model) -> list[str]:
    """Names of ``model``'s convolutions and matrix products after the backbone's last pooling, except the
    last one (the CTC head's): the sequence model (neck) of a PP-OCR recognizer."""
    ops = model.get_ordered_ops()
    pools = [i for i, op in enumerate(ops) if op.get_type_name() in ("AvgPool", "MaxPool")]
    if not pools:
        raise ValueError("--fp32-neck: the model has no pooling layer that ends a backbone")
    last_pool = pools[-1]
    compute = [op for op in ops[last_pool + 1:] if op.get_type_name() in ("Convolution", "GroupConvolution", "MatMul")]
    return [op.get_friendly_name() for op in compute[:-1]]


def export_int8_ir(fp32_dir: Path, out: Path, accuracy_control: bool = False, max_drop: float = MAX_DROP,
                   calibration: int = CALIBRATION, synthetic: int = SYNTHETIC, input_width: int | None = None,
                   fp32_neck: bool = False) -> dict[str, float]:
    """Quantize the fp32 IR in ``fp32_dir`` into the model directory ``out`` (``<name>-int8``).

    ``input_width``: the int8 model reads every crop at that width. ``fp32_neck``: the neck
    (:func:`neck_layers`) stays fp32. Returns exact match on the held-out train crops, fp32 and int8,
    and the share of them that read the same in both.
    """
    import nncf
    import openvino as ov

    spec = load_model_spec(fp32_dir)
    widths = [spec.preprocess]
    if input_width is not None:
        widths.append(replace(spec.preprocess, min_width=input_width, max_width=input_width))
    images = real_train(0, calibration)[0] + synthetic_plates(synthetic)
    tensors = [resize_normalize(image, preprocess)[None] for preprocess in widths for image in images]
    holdout, holdout_labels = real_train(calibration, HOLDOUT)
    model = ov.Core().read_model(str(fp32_dir / OPENVINO_FILES[0]))
    # TRANSFORMER: the SVTR neck's layer norms (ReduceMean, Sqrt, Divide) and softmaxes stay in fp32;
    # quantized as a convolutional model's eltwise ops are, the model read 1% of held-out train crops.
    settings = {"preset": nncf.QuantizationPreset.MIXED, "model_type": nncf.ModelType.TRANSFORMER,
                "subset_size": len(tensors)}
    if fp32_neck:
        settings["ignored_scope"] = nncf.IgnoredScope(names=neck_layers(model))
    if accuracy_control:
        def validate(compiled, items) -> float:  # NNCF passes the validation dataset's items: (image, label)
            items = list(items)
            reader = PlateRecognizer.with_backend(CompiledBackend(compiled), replace(spec, preprocess=widths[-1]))
            return exact_match(reader, [image for image, _ in items], [label for _, label in items])

        quantized = nncf.quantize_with_accuracy_control(
            model, nncf.Dataset(tensors), nncf.Dataset(list(zip(holdout, holdout_labels, strict=True))), validate,
            max_drop=max_drop, drop_type=nncf.DropType.ABSOLUTE, **settings)
    else:
        quantized = nncf.quantize(model, nncf.Dataset(tensors), **settings)
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out / OPENVINO_FILES[0]), compress_to_fp16=False)
    write_model_yaml(out, f"{spec.name}-int8", spec.version, spec.charset.characters, widths[-1],
                     spec.input_name, spec.plate_formats, spec.calibration)  # the fp32 model's map, not refitted
    fp32_texts = [r.text for r in PlateRecognizer(fp32_dir, backend="openvino", precision="fp32",
                                                  input_width=input_width)(holdout)]
    int8_texts = [r.text for r in PlateRecognizer(out, backend="openvino", precision="int8")(holdout)]
    return {"holdout_exact_fp32": _share(fp32_texts, holdout_labels),
            "holdout_exact_int8": _share(int8_texts, holdout_labels),
            "holdout_agreement": _share(int8_texts, fp32_texts)}


def _share(texts: Sequence[str], reference: Sequence[str]) -> float:
    return sum(a == b for a, b in zip(texts, reference, strict=True)) / len(reference)


@reports_bad_input("python -m exporters.to_openvino")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.to_openvino", description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=default_model_dir(),
                        help="model directory (default: the shipped one)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the fp32 IR model (int8: <out>-int8)")
    parser.add_argument("--int8", action="store_true", help="also write an int8 model, calibrated on real train crops")
    parser.add_argument("--input-width", type=int, help="int8: read every crop at this width (calibrated at it too)")
    parser.add_argument("--fp32-neck", action="store_true", help="int8: keep the neck (after the backbone) in fp32")
    parser.add_argument("--accuracy-control", action="store_true", help="int8 with NNCF's accuracy control")
    parser.add_argument("--max-drop", type=float, default=MAX_DROP)
    parser.add_argument("--calibration", type=int, default=CALIBRATION, help="real train crops to calibrate on")
    parser.add_argument("--synthetic", type=int, default=SYNTHETIC,
                        help="synthetic plates added to the calibration set")
    args = parser.parse_args(argv)
    int8_only = [flag for flag, given in (("--input-width", args.input_width is not None),
                                          ("--fp32-neck", args.fp32_neck),
                                          ("--accuracy-control", args.accuracy_control)) if given]
    if int8_only and not args.int8:
        parser.error(f"{', '.join(int8_only)} shape the int8 model: add --int8")
    if args.input_width is not None and not INPUT_WIDTHS[0] <= args.input_width <= INPUT_WIDTHS[1]:
        parser.error(f"--input-width must be between {INPUT_WIDTHS[0]} and {INPUT_WIDTHS[1]} pixels")
    spec = load_model_spec(args.model)
    for out in (args.out, args.out.with_name(args.out.name + "-int8")) if args.int8 else (args.out,):
        others = [f for f in (ONNX_FILE, *PADDLE_FILES) if (out / f).exists()]
        if others:  # the IR's inference.yml would list only the IR, leaving these unchecked beside it
            parser.error(f"{out} holds another model's files ({', '.join(others)}): write the IR to its own folder")
    with tempfile.TemporaryDirectory(prefix="twplate-openvino-") as tmp:
        staged = Path(tmp) / "fp32"
        diff = export_fp32_ir(spec, staged)
        print(f"fp32 IR checked against ONNX Runtime: max probability difference {diff:.1e}")
        if args.int8:
            staged_int8 = Path(tmp) / "int8"
            figures = export_int8_ir(staged, staged_int8, args.accuracy_control, args.max_drop, args.calibration,
                                     args.synthetic, args.input_width, args.fp32_neck)
            print("int8 on held-out real train crops: " + ", ".join(f"{k} {v:.2%}" for k, v in figures.items()))
            _replace(staged_int8, args.out.with_name(args.out.name + "-int8"))
        _replace(staged, args.out)
    print(f"wrote {args.out}" + (f" and {args.out.name}-int8" if args.int8 else ""))
    return 0


def _replace(staged: Path, out: Path) -> None:
    """Copy the staged model files over ``out``'s (other files there, such as a model card, stay)."""
    out.mkdir(parents=True, exist_ok=True)
    for produced in staged.iterdir():
        shutil.copy2(produced, out / produced.name)


if __name__ == "__main__":
    sys.exit(main())
