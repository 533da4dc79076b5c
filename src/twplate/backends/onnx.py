"""ONNX Runtime backend.

Execution providers, unless given: TensorRT, then CUDA, then CPU, keeping those that
``onnxruntime.get_available_providers()`` lists. ORT drops a provider that fails to start (no CUDA
driver, no TensorRT libraries), so :attr:`OnnxBackend.providers` reports ``session.get_providers()``,
what is really in use, and a warning says when a requested GPU provider fell back.

Thread safety: ``InferenceSession.run`` is safe to call from several threads at once, so one
backend serves them all without a lock.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ModelError
from ..model_files import ModelSpec

Provider = str | tuple[str, dict[str, Any]]

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PREFERRED_PROVIDERS = (TENSORRT, CUDA, CPU)


class OnnxBackend:
    """Runs a model's ONNX file with onnxruntime.

    Args:
        spec: the model.
        threads: ORT intra-op threads (``None``: ORT's default, one per physical core).
        max_batch: largest batch the caller sends; sizes the TensorRT optimisation profile.
        providers: execution providers in order of preference, as names or ``(name, options)``;
            overrides the TensorRT -> CUDA -> CPU default.
    """

    name: ClassVar[str] = "onnxruntime"

    def __init__(self, spec: ModelSpec, threads: int | None = None, max_batch: int = 32,
                 providers: Sequence[Provider] | None = None) -> None:
        import onnxruntime as ort

        warn_if_both_ort_dists()
        path = spec.directory / spec.onnx_file
        requested = list(providers) if providers is not None else default_providers(
            ort.get_available_providers(), spec, max_batch)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: graph-cleanup warnings are noise on stderr
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(str(path), options, providers=requested)
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... types
            raise ModelError(f"onnxruntime cannot load {path}: {exc}") from exc
        self._input = self._check_io(spec, path)
        self._providers = list(self._session.get_providers())
        warn_on_fallback(requested, self._providers)

    @staticmethod
    def files_for(spec: ModelSpec) -> tuple[str, ...]:
        return (spec.onnx_file,)

    @property
    def providers(self) -> list[str]:
        """Execution providers the session really uses, in priority order."""
        return list(self._providers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 -> ``(N, T, C)`` float32 probabilities."""
        (probs,) = self._session.run(None, {self._input: x})
        return np.asarray(probs, dtype=np.float32)

    def _check_io(self, spec: ModelSpec, path: Path) -> str:
        """Refuse a graph whose input or dictionary metadata does not fit ``spec``; return the input name."""
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        shape, height = inputs[0].shape, spec.preprocess.height
        fixed = [d if isinstance(d, int) else None for d in shape]
        if len(shape) != 4 or fixed[1] != 3 or fixed[2] not in (height, None) or fixed[3] is not None:
            raise ModelError(f"{path}: input {inputs[0].name!r} has shape {shape}; expected (N, 3, {height}, W) "
                             "with variable W (NCHW, BGR)")
        if inputs[0].name != spec.input_name:
            raise ModelError(f"{path}: input is named {inputs[0].name!r}, the model description says "
                             f"{spec.input_name!r}")
        characters = self._session.get_modelmeta().custom_metadata_map.get("character")
        if characters is not None and tuple(characters.split("\n")) != spec.charset.characters:
            raise ModelError(f"{path}: the dictionary in its metadata differs from the model description's "
                             f"({len(characters.split(chr(10)))} vs {len(spec.charset.characters)} characters)")
        return inputs[0].name


def default_providers(available: Sequence[str], spec: ModelSpec, max_batch: int) -> list[Provider]:
    """TensorRT, CUDA and CPU, those of them ``available``; TensorRT gets an engine cache and a width profile."""
    providers: list[Provider] = []
    for name in PREFERRED_PROVIDERS:
        if name not in available:
            continue
        if name == TENSORRT:
            cfg, x = spec.preprocess, spec.input_name
            cache = Path(os.environ.get("TWPLATE_CACHE", Path.home() / ".cache" / "twplate"), "tensorrt")
            providers.append((TENSORRT, {
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache / f"{spec.name}-{spec.version}"),
                "trt_profile_min_shapes": f"{x}:1x3x{cfg.height}x{cfg.min_width}",
                "trt_profile_opt_shapes": f"{x}:{max_batch}x3x{cfg.height}x{cfg.max_width}",
                "trt_profile_max_shapes": f"{x}:{max_batch}x3x{cfg.height}x{cfg.max_width}",
            }))
        else:
            providers.append(name)
    return providers or [CPU]


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
                      "pip uninstall -y onnxruntime onnxruntime-gpu, then install one of them",
                      RuntimeWarning, stacklevel=3)
