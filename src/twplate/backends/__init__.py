"""Backends by name. A backend's runtime (onnxruntime, paddle, openvino) is imported only when a model is loaded on it.

:data:`BACKENDS` maps each name to its class (a :class:`BackendFactory`), the runtime package it
needs and how to install that. ``"auto"`` takes the first backend, in table order, whose runtime is
installed and whose files the model has: onnxruntime, then paddle, then openvino (which reads a model
with only an OpenVINO IR, such as an int8 one). OpenVINO comes last although it can be faster: its fp32
reads the same as ONNX Runtime, and its faster bf16 does not (docs/openvino.md).
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..errors import BackendUnavailableError, ModelError
from ..model_files import AnySpec
from .base import Backend, BackendFactory, check_model_output
from .onnx import OnnxBackend
from .openvino import OpenVinoBackend
from .paddle import PaddleBackend

__all__ = ["BACKENDS", "RUNTIME_OPTIONS", "Backend", "BackendFactory", "available_backends", "backend_class",
           "check_backend_options", "load_backend", "resolve_backend_name", "runtime_options"]


class BackendEntry(NamedTuple):
    factory: BackendFactory  # its module must not import the runtime at import time
    runtime: str  # top-level package the backend needs
    install: str  # how to get it


RUNTIME_OPTIONS = ("precision", "streams")
"""Backend options that say how the runtime computes, not what a model reads: a photo reader built around
a recognizer gives its detector the ones the recognizer was given (the detector is most of a photo's time)."""


def runtime_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`RUNTIME_OPTIONS` set in ``options`` (a value of ``None`` is not set)."""
    return {name: options[name] for name in RUNTIME_OPTIONS if options.get(name) is not None}


BACKENDS: dict[str, BackendEntry] = {
    "onnxruntime": BackendEntry(OnnxBackend, "onnxruntime",
                                "pip install 'twplate[onnx]' (CPU) or 'twplate[onnx-gpu]' (CUDA, TensorRT), not both"),
    "paddle": BackendEntry(PaddleBackend, "paddle", "pip install 'twplate[paddle]'"),
    "openvino": BackendEntry(OpenVinoBackend, "openvino", "pip install 'twplate[openvino]'"),
}


def available_backends() -> list[str]:
    """Names of the backends whose runtime is installed, in ``auto`` order."""
    return [name for name, entry in BACKENDS.items() if importlib.util.find_spec(entry.runtime) is not None]


def backend_class(name: str) -> BackendFactory:
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
    return entry.factory


def resolve_backend_name(name: str, spec: AnySpec) -> str:
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


def check_backend_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options that backend ``name`` (not ``"auto"``) does not take, or values it cannot run on
    this machine (``precision="bf16"`` on a CPU without bfloat16), before any model loads.

    Raises:
        ValueError: naming the options it does not take and those it does, or the value it refuses.
        BackendUnavailableError: its runtime is not installed.
    """
    _check_option_names(name, options)
    backend_class(name).check_options(options)


def _check_option_names(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options that backend ``name``'s constructor does not take, naming those it does."""
    accepted = inspect.signature(backend_class(name)).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        own = [p for p in accepted if p not in ("spec", "threads", "max_batch")]
        raise ValueError(f"backend {name!r} has no option {', '.join(map(repr, unknown))} "
                         f"(its own options: {', '.join(own) or 'none'})")


def load_backend(name: str, spec: AnySpec, **options: Any) -> Backend:
    """Load model ``spec`` on backend ``name`` (or ``"auto"``) and check that its output fits the dictionary.

    The model files are verified against their sha256 first. ``options`` (``threads``,
    ``max_batch``, and backend-specific ones such as ``providers``) go to the backend's constructor.

    Raises:
        BackendUnavailableError, ModelError, ValueError (unknown name, an option the backend does not
        have, or an option value it refuses).
    """
    resolved = resolve_backend_name(name, spec)
    _check_option_names(resolved, options)  # the constructor checks the values
    cls = backend_class(resolved)
    spec.require(cls.files_for(spec))
    backend = cls(spec, **options)
    check_model_output(backend, spec)
    return backend
