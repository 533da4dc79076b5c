"""Checkpoint -> Paddle inference model (``inference.json`` + ``inference.pdiparams``), batch and width dynamic
(and height, for the detector)."""

from __future__ import annotations

from pathlib import Path


def export_paddle(model, out_dir: Path, height: int | None, input_name: str = "x") -> None:
    """Write ``out_dir/inference.json`` and ``inference.pdiparams`` with input ``(N, 3, height, W)``
    (``height`` ``None``: any height, as a detector takes)."""
    import paddle

    spec = paddle.static.InputSpec([None, 3, height, None], "float32", name=input_name)
    static = paddle.jit.to_static(model, input_spec=[spec], full_graph=True)
    paddle.jit.save(static, str(out_dir / "inference"))
