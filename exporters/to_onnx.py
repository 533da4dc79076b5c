"""Paddle inference model -> ``inference.onnx`` with paddle2onnx, dictionary and input spec in its metadata."""

from __future__ import annotations

from pathlib import Path

from twplate.model_files import ONNX_FILE, PADDLE_FILES, onnx_metadata_props
from twplate.preprocess import PreprocessConfig

OPSET = 14


def export_onnx(model_dir: Path, characters: list[str], preprocess: PreprocessConfig, name: str, version: str,
                plate_formats: bool = True) -> Path:
    """Convert ``model_dir``'s Paddle model to ``model_dir/inference.onnx`` with the recognizer's metadata."""
    import onnx

    out = convert_to_onnx(model_dir)
    model = onnx.load(str(out))
    del model.metadata_props[:]
    for key, value in onnx_metadata_props(characters, preprocess, name, version,
                                                 plate_formats=plate_formats).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(out))
    return out


def convert_to_onnx(model_dir: Path) -> Path:
    """``model_dir``'s Paddle model as ``model_dir/inference.onnx`` (no metadata added).

    ``optimize_tool="None"``: paddle2onnx writes the graph it converted, with no optimizer run after it.
    Its default (polygraphy) pip-installs packages while it runs, which fails offline and in CI; its
    onnxoptimizer pass list (paddle2onnx 2.1.0) names a pass that does not exist (``"eliminate_nop_cast "``),
    so that tool always fails and writes the same unoptimized graph after a warning.
    """
    import paddle2onnx

    json_file, params_file = (model_dir / f for f in PADDLE_FILES)
    out = model_dir / ONNX_FILE
    paddle2onnx.export(str(json_file), str(params_file), save_file=str(out), opset_version=OPSET,
                       enable_onnx_checker=True, optimize_tool="None")
    return out
