"""ONNX Runtime backend.

Execution providers, unless given: TensorRT, then CUDA, then CPU, keeping those that
``onnxruntime.get_available_providers()`` lists. ORT drops a provider that fails to start (no CUDA
driver, no TensorRT libraries), so :attr:`OnnxBackend.providers` reports ``session.get_providers()``,
what is really in use, and a warning says when a requested GPU provider fell back.

GPU, by the book for a small convolutional model with a dynamic width (nothing here can be
measured without a GPU; the options are tested with fake sessions):

* CUDA: ``cudnn_conv_algo_search="HEURISTIC"`` (``EXHAUSTIVE``, ORT's default, benchmarks every
  convolution again for each new input shape), ``arena_extend_strategy="kSameAsRequested"`` (no
  power-of-two over-allocation as batch shapes change), ``do_copy_in_default_stream=True``.
* Width buckets: on a GPU session the recognizer pads each batch to one of a few widths
  (:func:`~twplate.preprocess.gpu_width_buckets`, ``(80, 128, 208, 320)`` for a floor of 80), so
  kernels are tuned for four widths rather than for every width a batch happens to have.
* TensorRT: one optimisation profile per width bucket (the buckets in use: ``width_buckets=`` where given,
  one profile spanning every width with ``()``; batch 1..``max_batch``, at least 2 for the load check, tuned
  for ``max_batch``), fp16 when ``precision="fp16"`` (elsewhere that option warns: CUDA and CPU run the file
  as it is), engine and timing caches under
  ``$TWPLATE_CACHE/tensorrt/<model>-<first 16 hex digits of the ONNX file's sha256>-<precision>``.
* ``io_binding=True`` runs through ``session.io_binding()`` with the output left on the device
  until one copy back, instead of ORT's per-call output allocation.
* An fp16 ONNX file (``python -m exporters.to_fp16``) is a model of its own: pass its path as
  ``model=``; its inputs and outputs stay float32.

Thread safety: ``InferenceSession.run`` is safe to call from several threads at once, so one
backend serves them all without a lock.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..cache import cache_dir
from ..errors import ModelError
from ..model_files import AnySpec, ModelSpec, sha256_file
from ..preprocess import gpu_width_buckets
from .base import check_graph_io

Provider = str | tuple[str, dict[str, Any]]

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERRED_PROVIDERS = (TENSORRT, CUDA, CPU)
GPU_PROVIDERS = (TENSORRT, CUDA)
PRECISIONS = ("fp32", "fp16")

CUDA_OPTIONS: dict[str, Any] = {
    "device_id": 0,
    "cudnn_conv_algo_search": "HEURISTIC",
    "arena_extend_strategy": "kSameAsRequested",
    "do_copy_in_default_stream": True,
}
"""CUDA EP options used unless ``providers=`` says otherwise (see the module docstring)."""


class OnnxBackend:
    """Runs a model's ONNX file with onnxruntime.

    Args:
        spec: the model.
        threads: ORT intra-op threads (``None``: ORT's default, one per physical core).
        max_batch: largest batch the caller sends; sizes the TensorRT optimisation profile.
        providers: execution providers in order of preference, as names or ``(name, options)``;
            overrides the TensorRT -> CUDA -> CPU default.
        precision: ``"fp32"`` or ``"fp16"`` (TensorRT builds fp16 engines; CUDA and CPU run the file
            as it is, so for fp16 on CUDA load an fp16 ONNX file).
        io_binding: on a GPU session, run through I/O binding.
        width_buckets: widths to pad batches up to; ``None``: :func:`gpu_width_buckets` on a GPU
            session, none on CPU; ``()``: none.
        spinning: let ORT's intra-op threads busy-wait for more work instead of sleeping (ORT's
            default). Faster for back-to-back calls (10-17% here, ``docs/backends.md``); turn it off
            where the model waits between calls while other threads work, as ``twplate serve`` does
            (its event loop parses the next requests on the core a spinning thread would take).
    """

    name: ClassVar[str] = "onnxruntime"

    def __init__(self, spec: AnySpec, threads: int | None = None, max_batch: int = 32,
                 providers: Sequence[Provider] | None = None, precision: str = "fp32",
                 io_binding: bool = False, width_buckets: Sequence[int] | None = None,
                 spinning: bool = True) -> None:
        import onnxruntime as ort

        self.check_options({"precision": precision})
        warn_if_both_ort_dists()
        path = spec.directory / spec.onnx_file
        requested = list(providers) if providers is not None else default_providers(
            ort.get_available_providers(), spec, max_batch, precision, width_buckets)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: graph-cleanup warnings are noise on stderr
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=requested)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... types
            raise ModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        self._input = self._check_io(spec, path)
        self._output = self._session.get_outputs()[0].name
        self._providers = list(self._session.get_providers())
        warn_on_fallback(requested, self._providers)
        if precision == "fp16" and not builds_fp16_engines(requested, self._providers):
            warnings.warn(f"precision='fp16' builds TensorRT fp16 engines, and this session runs on "
                          f"{', '.join(self._providers)}: {path.name} runs as it is (for fp16 on CUDA, load an "
                          "fp16 ONNX file: python -m exporters.to_fp16)", RuntimeWarning, stacklevel=3)
        on_gpu = any(p in GPU_PROVIDERS for p in self._providers)
        self.width_buckets: tuple[int, ...] | None = (
            tuple(width_buckets) or None if width_buckets is not None
            else gpu_width_buckets(spec.preprocess) if on_gpu and isinstance(spec, ModelSpec) else None)
        """Widths the recognizer pads batches up to (``None``: each batch's own widest image)."""
        self._io_binding = io_binding and on_gpu

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        return (spec.onnx_file,)

    @staticmethod
    def check_options(options: Mapping[str, Any]) -> None:
        """Refuse an unknown ``precision`` (see :meth:`twplate.backends.base.BackendFactory.check_options`)."""
        precision = options.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"onnxruntime precision must be one of {PRECISIONS}, not {precision!r}")

    @property
    def providers(self) -> list[str]:
        """Execution providers the session really uses, in priority order."""
        return list(self._providers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 -> ``(N, T, C)`` float32 probabilities."""
        if self._io_binding:
            return self._run_bound(x)
        (probs,) = self._session.run(None, {self._input: x})
        return np.asarray(probs, dtype=np.float32)

    def _run_bound(self, x: np.ndarray) -> np.ndarray:
        """One run through I/O binding: input copied to the GPU once, output fetched once."""
        binding = self._session.io_binding()  # one per call: bindings are not shared between threads
        binding.bind_cpu_input(self._input, np.ascontiguousarray(x, dtype=np.float32))
        binding.bind_output(self._output, "cuda")
        self._session.run_with_iobinding(binding)
        (probs,) = binding.copy_outputs_to_cpu()
        return np.asarray(probs, dtype=np.float32)

    def _check_io(self, spec: AnySpec, path: Path) -> str:
        """Refuse a graph whose input or dictionary metadata does not fit ``spec``; return the input name."""
        inputs = [(i.name, [d if isinstance(d, int) else None for d in i.shape]) for i in self._session.get_inputs()]
        characters = self._session.get_modelmeta().custom_metadata_map.get("character")
        return check_graph_io(spec, path, inputs, len(self._session.get_outputs()), characters)


def default_providers(available: Sequence[str], spec: AnySpec, max_batch: int, precision: str = "fp32",
                      width_buckets: Sequence[int] | None = None) -> list[Provider]:
    """TensorRT, CUDA and CPU, those of them ``available``, with the options of the module docstring."""
    providers: list[Provider] = []
    for name in PREFERRED_PROVIDERS:
        if name not in available:
            continue
        if name == TENSORRT:
            if isinstance(spec, ModelSpec):  # a detector skips it: no profile fits any photo size
                providers.append((TENSORRT, tensorrt_options(spec, max_batch, precision, width_buckets)))
        elif name == CUDA:
            providers.append((CUDA, dict(CUDA_OPTIONS)))
        else:
            providers.append(name)
    return providers or [CPU]


def tensorrt_options(spec: ModelSpec, max_batch: int, precision: str = "fp32",
                     width_buckets: Sequence[int] | None = None) -> dict[str, Any]:
    """TensorRT EP options: caches keyed by model and precision; one profile per width the batches are padded to
    (``width_buckets``; ``None``: :func:`~twplate.preprocess.gpu_width_buckets`), and one spanning the widths
    past the last bucket (with ``()``, every width from the model's floor to its widest). Batches of 1 to
    ``max_batch``, and at least 2: the load check (:func:`~twplate.backends.base.check_model_output`) runs two.

    ORT reads several profiles for one input from the input name repeated in each shape list.
    """
    cfg, x = spec.preprocess, spec.input_name
    buckets = gpu_width_buckets(cfg) if width_buckets is None else tuple(width_buckets)
    top = max(max_batch, 2)
    cache = tensorrt_cache_dir(spec, precision)
    # each profile's narrowest and widest input: a bucket's own width, and a range for the widths past the
    # last bucket (batches are not padded there)
    spans = [(w, w) for w in buckets]
    if not buckets or buckets[-1] < cfg.max_width:
        spans.append((buckets[-1] + 1 if buckets else cfg.min_width, cfg.max_width))

    def shapes(batch: int, end: int) -> str:
        return ",".join(f"{x}:{batch}x3x{cfg.height}x{span[end]}" for span in spans)

    return {
        "trt_fp16_enable": precision == "fp16",
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(cache),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(cache),
        "trt_max_workspace_size": 1 << 30,
        "trt_profile_min_shapes": shapes(1, 0),
        "trt_profile_opt_shapes": shapes(top, 1),
        "trt_profile_max_shapes": shapes(top, 1),
    }


def tensorrt_cache_dir(spec: AnySpec, precision: str) -> Path:
    """``$TWPLATE_CACHE/tensorrt/<name>-<first 16 hex of the ONNX file's sha256>-<precision>``.

    Keyed by the file's content, not its version string, so a retrained model never picks up an
    engine built from another; ORT adds the GPU and TensorRT version inside the directory.
    """
    digest = spec.checksums.get(spec.onnx_file) or sha256_file(spec.directory / spec.onnx_file)
    return cache_dir("tensorrt", f"{spec.name}-{digest[:16]}-{precision}")


def builds_fp16_engines(requested: Sequence[Provider], in_use: Sequence[str]) -> bool:
    """TensorRT is in use, asked for fp16 engines (``trt_fp16_enable``)."""
    return TENSORRT in in_use and any(isinstance(p, tuple) and p[0] == TENSORRT
                                      and str(p[1].get("trt_fp16_enable")).lower() in ("true", "1")
                                      for p in requested)


def warn_on_fallback(requested: Sequence[Provider], in_use: Sequence[str]) -> None:
    """Warn when a requested non-CPU provider is not among those the session uses."""
    names = [p if isinstance(p, str) else p[0] for p in requested]
    missing = [n for n in names if n != CPU and n not in in_use]
    if missing:
        warnings.warn(f"onnxruntime could not use {', '.join(missing)}; running on {', '.join(in_use)}",
                      RuntimeWarning, stacklevel=3)


@functools.cache
def warn_if_both_ort_dists() -> None:
    """onnxruntime and onnxruntime-gpu install the same package; with both, whichever came last wins."""
    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            installed.append(f"{dist} {importlib.metadata.version(dist)}")
    if len(installed) == 2:
        warnings.warn(f"both {installed[0]} and {installed[1]} are installed and overwrite each other; "
                      "pip uninstall -y onnxruntime onnxruntime-gpu, "
                      "then install 'twplate[onnx]' or 'twplate[onnx-gpu]'",
                      RuntimeWarning, stacklevel=3)
