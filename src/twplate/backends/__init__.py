"""Backends by name. A backend's runtime (onnxruntime, paddle, openvino) is imported only when a model is loaded on it.

:data:`BACKENDS` maps each name to its class (``"module:Class"``), the runtime package it needs and
how to install that. ``"auto"`` takes the first backend, in table order, whose runtime is installed
and whose files the model has: onnxruntime, then paddle, then openvino (which reads a model with
only an OpenVINO IR, such as an int8 one). OpenVINO comes last although it can be faster: its fp32
reads the same as ONNX Runtime, and its faster bf16 does not (docs/openvino.md).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, NamedTuple

from ..errors import BackendUnavailableError, ModelError
from ..model_files import ModelSpec
from .base import Backend, check_model_output

__all__ = ["BACKENDS", "Backend", "available_backends", "backend_class", "load_backend", "resolve_backend_name"]


class BackendEntry(NamedTuple):
    target: str  # "module:Class"; importing the module must not import the runtime
    runtime: str  # top-level package the backend needs
    install: str  # how to get it


BACKENDS: dict[str, BackendEntry] = {
    "onnxruntime": BackendEntry("twplate.backends.onnx:OnnxBackend", "onnxruntime",
                                "pip install 'twplate[onnx]' (CPU) or 'twplate[onnx-gpu]' (CUDA, TensorRT), not both"),
    "paddle": BackendEntry("twplate.backends.paddle:PaddleBackend", "paddle", "pip install 'twplate[paddle]'"),
    "openvino": BackendEntry("twplate.backends.openvino:OpenVinoBackend", "openvino",
                             "pip install 'twplate[openvino]'"),
}


def available_backends() -> list[str]:
    """Names of the backends whose runtime is installed, in ``auto`` order."""
    return [name for name, entry in BACKENDS.items() if importlib.util.find_spec(entry.runtime) is not None]


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``.

    Raises:
        ValueError: unknown name.
        BackendUnavailableError: its runtime is not installed; the message says what to install.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {['auto', *BACKENDS]}")
    entry = BACKENDS[name]
    if importlib.util.find_spec(entry.runtime) is None:
        raise BackendUnavailableError(f"backend {name!r} needs the {entry.runtime} package: {entry.install}")
    module_name, class_name = entry.target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def resolve_backend_name(name: str, spec: ModelSpec) -> str:
    """``name`` itself, or for ``"auto"`` the first installed backend whose files ``spec`` has.

    Raises:
        BackendUnavailableError: ``"auto"`` and no runtime is installed.
        ModelError: ``"auto"`` and the model has files for none of the installed backends.
    """
    if name != "auto":
        return name
    installed = available_backends()
    if not installed:
        raise BackendUnavailableError("no inference runtime is installed: "
                                      + "; or ".join(entry.install for entry in BACKENDS.values()))
    for candidate in installed:
        if spec.has(backend_class(candidate).files_for(spec)):
            return candidate
    raise ModelError(f"model {spec.name!r} in {spec.directory} has no files for the installed backends {installed}")


def load_backend(name: str, spec: ModelSpec, **options: Any) -> Backend:
    """Load model ``spec`` on backend ``name`` (or ``"auto"``) and check that its output fits the dictionary.

    The model files are verified against their sha256 first. ``options`` (``threads``,
    ``max_batch``, and backend-specific ones such as ``providers``) go to the backend's constructor.

    Raises:
        BackendUnavailableError, ModelError, ValueError (unknown name or option value).
    """
    cls = backend_class(resolve_backend_name(name, spec))
    spec.require(cls.files_for(spec))
    backend = cls(spec, **options)
    check_model_output(backend, spec)
    return backend
