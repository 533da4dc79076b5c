"""``python -m exporters CHECKPOINT --out DIR``: checkpoint -> checked Paddle inference model and ONNX model."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from twplate.charset import Charset, default_dictionary_path
from twplate.model_files import (
    DEFAULT_MODEL,
    MODEL_FILES,
    PADDLE_FILES,
    YAML_FILE,
    load_model_spec,
    write_model_yaml,
)
from twplate.preprocess import PreprocessConfig
from twplate.training.checkpoint import CheckpointBackend, load_student
from twplate.training.config import RunSettings

from . import reports_bad_input
from .to_onnx import export_onnx
from .to_paddle import export_paddle
from .verify import ATOL, assert_reproduces


def export(checkpoint: str, out: Path, name: str, version: str, dictionary: Path,
           preprocess: PreprocessConfig, plate_formats: bool = True, atol: float = ATOL,
           onnx_only: bool = False) -> Path:
    """Export, check each step, and only then replace the model files in ``out``.

    A failed export leaves ``out`` untouched; files other than the model's (its card) are kept.
    ``atol`` bounds the probability difference of each step (identical text is always required).
    ``onnx_only``: the Paddle inference files, once the ONNX model is checked against them, are not kept
    (a model for ONNX Runtime and OpenVINO, half the size).
    """
    from twplate.backends.onnx import OnnxBackend
    from twplate.backends.paddle import PaddleBackend

    characters = list(Charset.from_file(dictionary).characters)
    model = load_student(checkpoint, characters)
    with tempfile.TemporaryDirectory(prefix="twplate-export-") as tmp:
        staging = Path(tmp)
        export_paddle(model, staging, preprocess.height)
        export_onnx(staging, characters, preprocess, name, version, plate_formats)
        write_model_yaml(staging, name, version, characters, preprocess, plate_formats=plate_formats)
        spec = load_model_spec(staging)
        paddle_backend = PaddleBackend(spec)
        d1 = assert_reproduces(CheckpointBackend(model), paddle_backend, characters, preprocess,
                               "Paddle inference model", atol)
        d2 = assert_reproduces(paddle_backend, OnnxBackend(spec), characters, preprocess, "ONNX model", atol)
        print(f"checked: Paddle inference vs checkpoint max diff {d1:.1e}; ONNX vs Paddle inference max diff {d2:.1e}")
        if onnx_only:
            for paddle_file in PADDLE_FILES:
                (staging / paddle_file).unlink()
            write_model_yaml(staging, name, version, characters, preprocess, plate_formats=plate_formats)
        out.mkdir(parents=True, exist_ok=True)
        for stale in (out / f for f in (*MODEL_FILES, YAML_FILE)):  # an IR left here would hold the old weights
            stale.unlink(missing_ok=True)
        for produced in staging.iterdir():  # other files in `out` (the model card) stay
            shutil.copy2(produced, out / produced.name)
    return out


@reports_bad_input("python -m exporters")
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters", description=__doc__)
    parser.add_argument("checkpoint", help="a .pdparams checkpoint, or 'pretrained' for PP-OCRv3's weights")
    parser.add_argument("--out", type=Path, default=Path("models") / DEFAULT_MODEL)
    parser.add_argument("--name", default=DEFAULT_MODEL)
    parser.add_argument("--version", required=True)
    parser.add_argument("--dict", type=Path, default=default_dictionary_path())
    parser.add_argument("--min-width", type=int, help="width floor of the input (default: the run's, see RunSettings)")
    parser.add_argument("--max-width", type=int, help="widest input (default: the run's)")
    parser.add_argument("--no-plate-formats", dest="plate_formats", action="store_false",
                        help="do not declare Taiwan plate formats (the model reads other text)")
    parser.add_argument("--atol", type=float, default=ATOL,
                        help=f"largest probability difference each step may show against its source (default {ATOL}; "
                             "identical text is always required)")
    parser.add_argument("--onnx-only", action="store_true",
                        help="keep only the ONNX model, not the Paddle inference files it was checked against")
    args = parser.parse_args(argv)
    pre = RunSettings.of(args.checkpoint).preprocess
    pre = replace(pre, min_width=args.min_width or pre.min_width, max_width=args.max_width or pre.max_width)
    out = export(args.checkpoint, args.out, args.name, args.version, args.dict, pre, args.plate_formats, args.atol,
                 args.onnx_only)
    print(f"exported {args.checkpoint} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
