"""fp16 variant of a model's ONNX file for GPUs, checked against the fp32 model it came from.

``python -m exporters.to_fp16 [MODEL_DIR] --out FILE.onnx``

Weights and activations become float16 (``onnxconverter_common.float16``); the input and output
stay float32 (``keep_io_types``), so the file is a drop-in ``model=`` for :class:`twplate.PlateRecognizer`
and the dictionary and input spec travel in its metadata as for any bare ``.onnx`` model, with the source
model's confidence map (``confidence``), so its confidences are calibrated as the source's are.

Parity: the same probe plates as every export (``exporters/verify.py``), with the tolerance on
probabilities loosened from 1e-4 to :data:`FP16_ATOL` = 2e-2 (fp16 keeps about 3 significant
digits; the zero-shot model drifted by 8e-3); the decoded text must still be identical. A reading
that sits on a near-tie can flip in fp16 and is then refused (model 1.0.0: one probe plate, 0.33).
The check runs the fp16 file on whatever onnxruntime has (CPU here), which is slower than fp32 on
CPU: the file is meant for CUDA/TensorRT.
Nothing is written to ``models/``: ship the file only once it has been checked on the GPU it is for.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from twplate.confidence import Calibration
from twplate.model_files import default_model_dir, load_model_spec

from . import reports_bad_input
from .verify import assert_reproduces

FP16_ATOL = 2e-2
"""Largest probability difference allowed between the fp16 file and its fp32 source."""


def convert_fp16(src: Path, out: Path, calibration: Calibration | None = None) -> Path:
    """Write an fp16 copy of ONNX file ``src`` to ``out`` (float32 input and output, metadata kept), with
    ``calibration`` (the source model's confidence map, from its ``inference.yml``) in its metadata."""
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    with warnings.catch_warnings():  # one warning per weight that rounds to fp16's smallest normal
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        fp16 = float16.convert_float_to_float16(model, keep_io_types=True)
    if calibration is not None:
        kept = [(p.key, p.value) for p in fp16.metadata_props if p.key != "confidence"]
        del fp16.metadata_props[:]
        for key, value in [*kept, ("confidence", json.dumps(calibration.to_dict()))]:
            fp16.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(fp16)
    onnx.save(fp16, str(out))
    return out


def export_fp16(model: Path | None, out: Path, providers: list[str] | None = None) -> float:
    """Convert ``model``'s ONNX file, check it against the source, then move it to ``out``.

    Returns the max probability difference. Raises :class:`~exporters.verify.ExportMismatch`
    (and leaves ``out`` untouched) when the fp16 file does not reproduce the fp32 model.
    """
    from twplate.backends.onnx import OnnxBackend

    spec = load_model_spec(model)
    with tempfile.TemporaryDirectory(prefix="twplate-fp16-") as tmp:
        staged = convert_fp16(spec.directory / spec.onnx_file, Path(tmp) / out.name, spec.calibration)
        fp16_spec = load_model_spec(staged)
        diff = assert_reproduces(OnnxBackend(spec, providers=providers), OnnxBackend(fp16_spec, providers=providers),
                                 spec.charset.characters, spec.preprocess, "fp16 ONNX model", atol=FP16_ATOL)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staged, out)
    return diff


@reports_bad_input("python -m exporters.to_fp16")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.to_fp16", description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=default_model_dir(),
                        help="model directory or .onnx file (default: the shipped model)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the fp16 .onnx file")
    args = parser.parse_args(argv)
    diff = export_fp16(args.model, args.out)
    print(f"checked: fp16 vs fp32 max probability difference {diff:.1e} (limit {FP16_ATOL:.0e}), same text; "
          f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
