"""Tiny stand-in recognition models with a readable code, built in ONNX and in Paddle.

The model averages each 48 x 8 block of the input (one CTC time step per 8 pixels of width, as the
real Student) and picks the class whose centre is nearest the block's normalised grey level. Class
0 (blank) sits at 0.0, the grey of zero padding, so padded columns decode as blank. So
:func:`stripe_image` can draw any string as grey stripes that the model reads back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twplate.model_files import onnx_metadata_props, write_model_yaml
from twplate.preprocess import PreprocessConfig

PREPROCESS = PreprocessConfig(min_width=160)
"""The tiny model's input spec: fixed here (not the library default) because the stripe images are
drawn for a 160-pixel floor."""

CHARACTERS = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-軍外使領試臨")
SHARPNESS = 20000.0


def class_centres(num_classes: int) -> np.ndarray:
    """Normalised grey level of each class; blank at 0."""
    points = np.linspace(-1.0, 1.0, num_classes + 1)
    others = [p for p in points if abs(p) > 1e-9][: num_classes - 1]
    return np.array([0.0, *others])


def conv_params(num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """1x1 conv weight (C, 3, 1, 1) and bias (C,) giving logits -k (v - c)^2 up to a constant."""
    c = class_centres(num_classes)
    weight = np.repeat((2 * SHARPNESS * c / 3.0)[:, None], 3, axis=1)[:, :, None, None]
    return weight.astype(np.float32), (-SHARPNESS * c * c).astype(np.float32)


def stripe_image(text: str, characters: Sequence[str] = CHARACTERS, width: int = 160) -> np.ndarray:
    """A 48-high BGR image that the tiny model reads as ``text``: 2 blocks per character, 1 blank block between."""
    grey = np.rint((class_centres(len(characters) + 1) + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    blank = grey[0]
    cols = []
    for ch in text:
        cols += [grey[characters.index(ch) + 1]] * 16 + [blank] * 8
    cols += [blank] * max(0, width - len(cols))
    row = np.array(cols, dtype=np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None, :, None], (48, len(cols), 3)))


def build_onnx(path: Path, characters: Sequence[str] = CHARACTERS, num_classes: int | None = None,
               input_shape: Sequence[int | str] = ("N", 3, 48, "W"), metadata: bool = True,
               softmax: bool = True) -> Path:
    """Write the tiny model as ONNX; ``num_classes``/``input_shape``/``softmax`` let tests break it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    num_classes = num_classes or len(characters) + 1
    weight, bias = conv_params(num_classes)
    nodes = [
        helper.make_node("AveragePool", ["x"], ["pooled"], kernel_shape=[48, 8], strides=[48, 8]),
        helper.make_node("Conv", ["pooled", "w", "b"], ["logits4"]),
        helper.make_node("Squeeze", ["logits4", "axis2"], ["logits3"]),
        helper.make_node("Transpose", ["logits3"], ["logits"], perm=[0, 2, 1]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1) if softmax
        else helper.make_node("Identity", ["logits"], ["probs"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", "T", num_classes])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b"),
                     numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if metadata:
        helper.set_model_props(model, onnx_metadata_props(characters, PREPROCESS, "tiny", "0"))
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def build_paddle(directory: Path, characters: Sequence[str] = CHARACTERS) -> None:
    """Write the tiny model as a Paddle inference model (``inference.json`` + ``inference.pdiparams``)."""
    import paddle

    weight, bias = conv_params(len(characters) + 1)

    class Tiny(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.pool = paddle.nn.AvgPool2D(kernel_size=(48, 8), stride=(48, 8))
            self.conv = paddle.nn.Conv2D(3, weight.shape[0], 1)

        def forward(self, x):
            logits = self.conv(self.pool(x)).squeeze(2).transpose([0, 2, 1])
            return paddle.nn.functional.softmax(logits, axis=-1)

    layer = Tiny()
    layer.conv.weight.set_value(weight)
    layer.conv.bias.set_value(bias)
    layer.eval()
    spec = [paddle.static.InputSpec([None, 3, 48, None], "float32", "x")]
    paddle.jit.save(layer, str(directory / "inference"), input_spec=spec)


def build_model_dir(directory: Path, characters: Sequence[str] = CHARACTERS, paddle: bool = False) -> Path:
    """A complete model directory (ONNX, optionally Paddle, and ``inference.yml`` with checksums)."""
    directory.mkdir(parents=True, exist_ok=True)
    build_onnx(directory / "inference.onnx", characters)
    if paddle:
        build_paddle(directory, characters)
    write_model_yaml(directory, "tiny", "0", characters, PREPROCESS)
    return directory
