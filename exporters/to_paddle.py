"""Checkpoint -> Paddle inference model (``inference.json`` + ``inference.pdiparams``), batch and width dynamic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twplate.preprocess import PreprocessConfig


def load_student(checkpoint: str | Path, characters: list[str]):
    """The Student in eval mode from a ``.pdparams`` checkpoint, or ``"pretrained"`` for PP-OCRv3's weights."""
    import paddle

    from twplate.training.model import PlateRecModel
    from twplate.training.pretrained import plate_model_from_pretrained

    if str(checkpoint) == "pretrained":
        model = plate_model_from_pretrained(characters)
    else:
        model = PlateRecModel(len(characters) + 1)
        state = paddle.load(str(checkpoint))
        missing, unexpected = model.set_state_dict(state)
        if missing or unexpected:
            raise ValueError(f"{checkpoint}: missing {missing}, unexpected {unexpected}")
    model.eval()
    return model


def dygraph_runner(model):
    """A callable ``(N,3,H,W) -> (N,T,C)`` probabilities around a dygraph model."""
    import paddle

    def run(batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return model(paddle.to_tensor(batch)).numpy()

    return run


def export_paddle(model, out_dir: Path, preprocess: PreprocessConfig, input_name: str = "x") -> None:
    """Write ``out_dir/inference.json`` and ``inference.pdiparams`` with input ``(N, 3, height, W)``."""
    import paddle

    spec = paddle.static.InputSpec([None, 3, preprocess.height, None], "float32", name=input_name)
    static = paddle.jit.to_static(model, input_spec=[spec], full_graph=True)
    paddle.jit.save(static, str(out_dir / "inference"))
