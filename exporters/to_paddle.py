"""Checkpoint -> Paddle inference model (``inference.json`` + ``inference.pdiparams``), batch and width dynamic."""

from __future__ import annotations

from pathlib import Path


def export_paddle(model, out_dir: Path, height: int | None, input_name: str = "x") -> None:
    """Write ``out_dir/inference.json`` and ``inference.pdiparams`` with input ``(N, 3, height, W)``
    (``height`` ``None``: any height, as a detector takes)."""
    import paddle

    spec = paddle.static.InputSpec([None, 3, height, None], "float32", name=input_name)
    static = paddle.jit.to_static(model, input_spec=[spec], full_graph=True)
    paddle.jit.save(static, str(out_dir / "inference"))


def translate_legacy(model_file: Path, params_file: Path, out_dir: Path) -> None:
    """Paddle 2 inference model (``.pdmodel`` + ``.pdiparams``) -> Paddle 3 ``out_dir/inference.json`` + ``.pdiparams``.

    Paddle's own path: the old program is loaded under the old IR, translated op by op to PIR
    (``paddle.pir.translate_to_pir``) and saved; the weights are written unchanged.
    """
    import paddle
    from paddle.pir_utils import OldIrGuard

    paddle.enable_static()
    try:
        executor = paddle.static.Executor(paddle.CPUPlace())
        scope = paddle.static.Scope()
        with paddle.static.scope_guard(scope):
            with OldIrGuard():
                legacy, _, _ = paddle.static.load_inference_model(
                    str(model_file.parent), executor, model_filename=model_file.name, params_filename=params_file.name)
            program = paddle.pir.translate_to_pir(legacy.desc)
            ops = program.global_block().ops
            feeds = [op.result(0) for op in ops if op.name() == "pd_op.feed"]
            fetch_ops = [op for op in ops if op.name() == "pd_op.fetch"]
            fetches = [op.operand_source(0) for op in fetch_ops]
            for op in fetch_ops:  # save_inference_model adds its own
                program.global_block().remove_op(op)
            paddle.static.save_inference_model(str(out_dir / "inference"), feeds, fetches, executor, program=program)
    finally:
        paddle.disable_static()
