"""Paddle Inference backend (``pip install 'twplate[paddle]'``; GPU with paddlepaddle-gpu).

Device: ``"auto"`` uses GPU 0 when Paddle was built with CUDA and sees a GPU, else the CPU with
oneDNN (MKL-DNN). :attr:`PaddleBackend.providers` reports which, e.g. ``["cpu", "mkldnn"]``.

Thread safety: a Paddle predictor holds its input and output tensors, so two threads running it at
once would overwrite each other's data. Calls are therefore handed to one worker thread that the
backend owns and that alone runs the predictor: sharing one backend between threads is safe but
runs one batch at a time. (One thread rather than a lock: Paddle's CPU allocator keeps memory per
calling thread, so a predictor run from many threads, or from a thread pool that renews its threads,
grew the process by about 20 MB per thread, 180 MB for 8; run from one thread it stays flat.)
For parallel throughput on CPU, give each worker its own :class:`~twplate.PlateRecognizer`.

oneDNN and resize ops: Paddle 3.3's oneDNN executor cannot convert the ``scale`` attribute (a list of
doubles) of the resize ops (``nearest_interp``, ``bilinear_interp``, ...; "ConvertPirAttribute2RuntimeAttribute
not support", Paddle issue 79749). A program that has one, such as the text detector's upsampling, is
therefore run without oneDNN's kernel placement (Paddle's own CPU kernels; ``providers`` says ``["cpu"]``).

Files: ``inference.json`` and ``inference.pdiparams`` are loaded only when ``inference.yml`` lists
their sha256 (:func:`~twplate.backends.load_backend` checks it first): Paddle Inference loads a
``.pdiparams`` cut a few bytes short without an error, so the checksum is what catches one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np

from ..errors import ModelError
from ..model_files import PADDLE_FILES, YAML_FILE, AnySpec, ModelSpec
from ..preprocess import gpu_width_buckets

DEVICES = ("auto", "cpu", "gpu")
_RESIZE_OP = re.compile(r'"#":\s*"\d+\.(nearest|bilinear|bicubic|linear|trilinear)_interp"')
"""A resize op in a serialised Paddle 3 program, which Paddle 3.3's oneDNN executor cannot run."""


class PaddleBackend:
    """Runs a model's ``inference.json`` + ``inference.pdiparams`` with Paddle Inference.

    Args:
        spec: the model.
        threads: CPU math threads (``None``: Paddle's default).
        max_batch: unused by Paddle (shapes are dynamic); accepted for a uniform constructor.
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        mkldnn: use oneDNN kernels on CPU.

    Raises:
        ModelError: the model files cannot be verified or loaded.
        ValueError: an unknown ``device``, or ``"gpu"`` on a CPU-only Paddle.
    """

    name: ClassVar[str] = "paddle"

    def __init__(self, spec: AnySpec, threads: int | None = None, max_batch: int = 32,
                 device: str = "auto", mkldnn: bool = True) -> None:
        import paddle
        from paddle import inference

        self.check_options({"device": device})
        use_gpu = device == "gpu" or (device == "auto" and paddle.device.is_compiled_with_cuda()
                                      and paddle.device.cuda.device_count() > 0)
        unchecked = [f for f in PADDLE_FILES if f not in spec.checksums]
        if unchecked:  # Paddle Inference loads a .pdiparams cut a few bytes short without an error
            raise ModelError(f"model {spec.name!r}: {YAML_FILE} in {spec.directory} lists no sha256 for "
                             f"{', '.join(unchecked)}; the paddle backend loads only files it can verify")
        json_path, params_path = (spec.directory / f for f in PADDLE_FILES)
        config = inference.Config(str(json_path), str(params_path))
        config.disable_glog_info()
        self.width_buckets = gpu_width_buckets(spec.preprocess) if use_gpu and isinstance(spec, ModelSpec) else None
        if use_gpu:
            config.enable_use_gpu(256, 0)
            self._providers = ["gpu:0"]
        else:
            config.disable_gpu()
            onednn_kernels = mkldnn and not _RESIZE_OP.search(json_path.read_text(encoding="utf-8"))
            if mkldnn:
                config.enable_mkldnn()
                if not onednn_kernels:
                    config.delete_pass("onednn_placement_pass")
            if threads is not None:
                config.set_cpu_math_library_num_threads(int(threads))
            self._providers = ["cpu", "mkldnn"] if onednn_kernels else ["cpu"]
        try:
            self._predictor = inference.create_predictor(config)
        except Exception as exc:  # Paddle raises RuntimeError/ValueError/... for unreadable programs
            raise ModelError(f"Paddle cannot load {json_path} + {params_path.name}: {exc}") from exc
        names = self._predictor.get_input_names()
        if names != [spec.input_name]:
            raise ModelError(f"{json_path}: inputs {names}, expected one named {spec.input_name!r}")
        self._input = self._predictor.get_input_handle(names[0])
        self._output = self._predictor.get_output_handle(self._predictor.get_output_names()[0])
        # the only thread that runs the predictor (exits when the backend is garbage-collected)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twplate-paddle")

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        return PADDLE_FILES

    @staticmethod
    def check_options(options: Mapping[str, Any]) -> None:
        """Refuse an unknown ``device``, and ``device="gpu"`` on a CPU-only Paddle (see
        :meth:`twplate.backends.base.BackendFactory.check_options`)."""
        device = options.get("device", "auto")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {device!r}")
        if device == "gpu":
            import paddle

            if not paddle.device.is_compiled_with_cuda():
                raise ValueError("device='gpu' needs paddlepaddle-gpu; this Paddle is CPU-only")

    @property
    def providers(self) -> list[str]:
        """``["gpu:0"]``, or ``["cpu", "mkldnn"]`` / ``["cpu"]``."""
        return list(self._providers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 -> ``(N, T, C)`` float32 probabilities; one call at a time."""
        return self._worker.submit(self._run, np.ascontiguousarray(x, dtype=np.float32)).result()

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run the predictor; only ever called on the worker thread."""
        self._input.reshape(list(x.shape))
        self._input.copy_from_cpu(x)
        self._predictor.run()
        return np.asarray(self._output.copy_to_cpu(), dtype=np.float32)
