"""Import PaddleOCR's public recognizer weights into :class:`~twplate.training.model.PlateRecModel`.

The usual model hosts are out of reach, but PyPI wheels ship them: ``rapidocr_onnxruntime==1.2.3``
has ``models/ch_PP-OCRv3_rec_infer.onnx`` (the Student, ``"ppocrv3"``) and ``rapidocr_onnxruntime==1.4.4``
``models/ch_PP-OCRv4_rec_infer.onnx`` (``"ppocrv4"``), both exported from PaddleOCR with 6625 classes
(blank + ``ppocr_keys_v1`` + space). Their weights are graph constants named as Paddle names
parameters (``conv2d_3.w_0``); taken in order of first use they line up one to one with
``state_dict()`` order, and every shape is checked.

A Taiwan-plate head is then cut from the 6625-class head: each plate character takes the row of
the same character in ``ppocr_keys_v1`` (領 takes 领's row), so the model reads plates before any
training.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from twplate.errors import CheckpointError

from .model import PlateRecModel
from .wheels import PublicWeights, onnx_tensors, wheel_member

PRETRAINED = {  # per architecture
    "ppocrv3": PublicWeights("rapidocr_onnxruntime==1.2.3", "rapidocr_onnxruntime/models/ch_PP-OCRv3_rec_infer.onnx",
                             "897a3ededb38fee0dae2c1ccee38241f37df202c9509e3abca02e9217c5ee615"),
    "ppocrv4": PublicWeights("rapidocr_onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
                             "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"),
}
PARAMETER_NAME = re.compile(r"\.[wb]_\d+$")
"""How paddle2onnx names a constant that was a Paddle parameter (``conv2d_3.w_0``, ``batch_norm2d_1.w_2``);
its other constants (shapes, axes, the 3 and 6 of hardswish) are named otherwise."""
PPOCR_NUM_CLASSES = 6625
# Plate characters missing from ppocr_keys_v1 and the character whose head row stands in for them.
HEAD_ROW_STAND_INS = {"領": "领"}


def find_pretrained_onnx(cache_dir: Path | None = None, architecture: str = "ppocrv3") -> Path:
    """The public ONNX model of ``architecture`` (see :data:`PRETRAINED`), checked by sha256.

    See :func:`~twplate.training.wheels.wheel_member` for where it comes from.

    Raises:
        FileNotFoundError: the wheel cannot be fetched (says how to supply it by hand).
        ValueError: the file is not the expected model (sha256 mismatch).
    """
    return wheel_member(*PRETRAINED[architecture], cache_dir)


def onnx_constants(path: Path) -> tuple[list[np.ndarray], list[str]]:
    """The model's parameters (:data:`PARAMETER_NAME`) in order of first use, and its character list (without blank)."""
    model, values = onnx_tensors(path)
    ordered, seen = [], set()
    for node in model.graph.node:
        for name in node.input:
            if name in values and name not in seen and PARAMETER_NAME.search(name):
                seen.add(name)
                ordered.append(values[name])
    meta = {p.key: p.value for p in model.metadata_props}
    characters = meta.get("character", "").splitlines()
    return ordered, characters


def load_onnx_weights(model: PlateRecModel, path: Path) -> list[str]:
    """Set ``model``'s weights from an ONNX export of the same architecture; return its character list.

    Works for any paddle2onnx export of the architecture: the public model, or one of twplate's own
    (``models/twplate-rec/inference.onnx``), so a new run can start from a shipped version.
    Every shape is checked, so a model of another architecture or head size is refused.
    """
    weights, characters = onnx_constants(path)
    state = model.state_dict()
    if len(weights) != len(state):
        raise CheckpointError(f"{path} has {len(weights)} weight tensors, the model {len(state)}")
    new_state: dict[str, Any] = {}  # numpy arrays: set_state_dict takes them as it takes tensors
    for (name, param), value in zip(state.items(), weights):
        if tuple(param.shape) != value.shape:
            raise CheckpointError(f"shape mismatch at {name}: model {tuple(param.shape)} vs {path} {value.shape}")
        new_state[name] = value.astype("float32")
    model.set_state_dict(new_state)
    return characters


def load_ppocr_model(path: Path | None = None, use_guide: bool = False, time_stride: int = 8,
                     architecture: str = "ppocrv3") -> tuple[PlateRecModel, list[str]]:
    """The 6625-class PaddleOCR model of ``architecture`` with its public weights, and its character list."""
    model = PlateRecModel(PPOCR_NUM_CLASSES, use_guide=use_guide, time_stride=time_stride, architecture=architecture)
    characters = load_onnx_weights(model, path or find_pretrained_onnx(architecture=architecture))
    if characters and len(characters) + 2 != PPOCR_NUM_CLASSES:
        raise ValueError(f"pretrained dictionary has {len(characters)} characters, expected {PPOCR_NUM_CLASSES - 2}")
    return model, characters


def plate_model_from_pretrained(charset: list[str], path: Path | None = None, use_guide: bool = False,
                                time_stride: int = 8, architecture: str = "ppocrv3") -> PlateRecModel:
    """A model of ``architecture`` whose head reads ``charset`` (blank at 0), cut from the pretrained head."""
    full, ppocr_chars = load_ppocr_model(path, use_guide=use_guide, time_stride=time_stride,
                                         architecture=architecture)
    index = {c: i + 1 for i, c in enumerate(ppocr_chars)}  # +1: blank is row 0
    rows = [0]
    for ch in charset:
        key = HEAD_ROW_STAND_INS.get(ch, ch)
        if key not in index:
            raise KeyError(f"character {ch!r} has no row in the pretrained head; add a stand-in to HEAD_ROW_STAND_INS")
        rows.append(index[key])
    model = PlateRecModel(len(charset) + 1, use_guide=use_guide, time_stride=time_stride, architecture=architecture)
    state: dict[str, Any] = full.state_dict()
    w, b = state.pop("head.weight").numpy(), state.pop("head.bias").numpy()
    state["head.weight"] = w[:, rows]
    state["head.bias"] = b[rows]
    model.set_state_dict(state)
    return model
