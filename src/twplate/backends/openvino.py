"""OpenVINO backend (``pip install 'twplate[openvino]'``), on the CPU.

Reads the model's OpenVINO IR (``inference.xml`` + ``inference.bin``, as ``python -m
exporters.to_openvino`` writes it) where the directory has one, else its ONNX file, with a variable
batch and width.

Precision is an explicit choice and never lowered behind the caller's back (OpenVINO's own default
on CPUs with AMX is bf16; here it is fp32 unless asked):

* ``"fp32"``: every layer in float32 (the default for a float model).
* ``"bf16"``: OpenVINO's bfloat16 inference precision; only on CPUs with native bf16 (AMX or
  AVX512_BF16, which OpenVINO lists as ``BF16`` in ``OPTIMIZATION_CAPABILITIES``).
* ``"int8"``: a quantized model (its FakeQuantize layers run in int8, the rest in fp32); only on
  CPUs with VNNI or AMX int8, where int8 is faster than fp32 (without them it is emulated, slower).
  It needs an int8 model (``exporters.to_openvino --int8``); a quantized model loads as int8 by
  default and refuses ``"fp32"``/``"bf16"``, which it cannot honour.

:func:`check_precision` makes that decision from a set of capabilities (a pure function);
:attr:`OpenVinoBackend.providers` reports the device and the precision the compiled model's
convolutions and matrix products really run in, read back from its execution graph.

Thread safety: each calling thread gets its own infer request on the one compiled model
(requests are not shareable; the compiled model is), so threads never overwrite each other's
tensors. With the default latency hint the compiled model has one stream: calls from several
threads queue for it, each using all ``threads``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ModelError
from ..model_files import OPENVINO_FILES, AnySpec
from ..onnx_metadata import read_onnx_metadata
from .base import check_graph_io

PRECISIONS = ("fp32", "bf16", "int8")
INFERENCE_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
"""OpenVINO's ``INFERENCE_PRECISION_HINT`` for each precision (int8: the layers left unquantized run in f32)."""
INT8_FLAGS = frozenset({"AVX512_VNNI", "AVX_VNNI", "AMX_INT8"})
"""CPU flags (``/proc/cpuinfo``, upper case) with native int8 dot products."""
COMPUTE_LAYERS = frozenset({"Convolution", "FullyConnected", "MatMul", "GroupConvolution"})
"""Execution-graph layer types whose precision is the model's precision."""
RUNTIME_PRECISION = {"i8": "int8", "u8": "int8", "bf16": "bf16", "f32": "fp32", "f16": "fp16"}
IR_CHARACTER_KEY = ["twplate", "character"]
"""Where ``exporters.to_openvino`` puts the dictionary in an IR's ``rt_info`` (newline-joined)."""


class OpenVinoBackend:
    """Runs a model's OpenVINO IR, or its ONNX file, with OpenVINO on the CPU.

    Args:
        spec: the model.
        threads: ``INFERENCE_NUM_THREADS`` (``None``: OpenVINO's default, one per physical core).
        max_batch: unused (shapes are dynamic); accepted for a uniform constructor.
        precision: ``"fp32"``, ``"bf16"`` or ``"int8"`` (see the module docstring); ``None``: fp32
            for a float model, int8 for a quantized one.

    Raises:
        ModelError: the model cannot be read, or does not fit ``spec``.
        ValueError: an unknown precision, one this CPU has no native support for, or one the
            model cannot run in.
    """

    name: ClassVar[str] = "openvino"
    width_buckets: tuple[int, ...] | None = None

    def __init__(self, spec: AnySpec, threads: int | None = None, max_batch: int = 32,
                 precision: str | None = None) -> None:
        import openvino as ov

        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        core = ov.Core()
        path = spec.directory / self.files_for(spec)[0]
        try:
            model = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError (and others) for unreadable files
            raise ModelError(f"openvino cannot load {path}: {exc}") from exc
        inputs = [(i.get_any_name(), _dims(i.get_partial_shape())) for i in model.inputs]
        self._input = check_graph_io(spec, path, inputs, len(model.outputs), _characters(model, path))
        quantized = any(op.get_type_name() == "FakeQuantize" for op in model.get_ops())
        precision = precision or ("int8" if quantized else "fp32")
        if quantized != (precision == "int8"):
            raise ValueError(f"{path} is an int8 (quantized) model: load it with precision='int8'" if quantized else
                             f"precision='int8' needs an int8 model ({path} is a float model): write one with "
                             "python -m exporters.to_openvino --int8, or load models/twplate-rec-int8")
        capabilities = cpu_capabilities(core)
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": check_precision(precision, capabilities),
                                  "PERFORMANCE_HINT": "LATENCY"}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        try:
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:
            raise ModelError(f"openvino cannot compile {path} for the CPU: {exc}") from exc
        self.precision = runtime_precision(self._compiled)
        """The precision the compiled model's convolutions and matrix products run in."""
        self._requests = threading.local()

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        """The IR where the model directory has one, else the ONNX file."""
        return OPENVINO_FILES if spec.has(OPENVINO_FILES) else (spec.onnx_file,)

    @property
    def providers(self) -> list[str]:
        """``["CPU", precision]``: the device and the precision really in use, e.g. ``["CPU", "fp32"]``."""
        return ["CPU", self.precision]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 -> ``(N, T, C)`` float32 probabilities, on this thread's infer request."""
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        request.infer({self._input: np.ascontiguousarray(x, dtype=np.float32)})
        return np.array(request.get_output_tensor(0).data, dtype=np.float32)  # a copy: the request reuses it


def check_precision(precision: str, capabilities: Collection[str]) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for ``precision`` on a CPU with ``capabilities``.

    ``capabilities``: OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU and its instruction-set
    flags, upper case (see :func:`cpu_capabilities`).

    Raises:
        ValueError: ``precision`` is unknown, or the CPU has no native support for it (bf16 needs
            ``BF16``: AMX or AVX512_BF16; int8 needs one of :data:`INT8_FLAGS`), naming what is missing.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "bf16" and "BF16" not in capabilities:
        raise ValueError("precision='bf16' needs a CPU with native bfloat16 (AMX or AVX512_BF16); this one has "
                         "neither, and emulated bf16 would be slower than fp32: use precision='fp32'")
    if precision == "int8" and not INT8_FLAGS & set(capabilities):
        raise ValueError("precision='int8' needs a CPU with VNNI or AMX int8 (AVX512_VNNI, AVX_VNNI or AMX_INT8); "
                         "this one has none, and int8 without them is slower than fp32: use precision='fp32'")
    return INFERENCE_PRECISION[precision]


def cpu_capabilities(core: Any) -> frozenset[str]:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` for the CPU plus the CPU's flags from ``/proc/cpuinfo``
    (Linux; elsewhere none, so int8 is refused rather than guessed)."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            line = next((line for line in cpuinfo if line.startswith("flags")), "")
        flags = {flag.upper() for flag in line.partition(":")[2].split()}
    except OSError:
        pass
    return frozenset({c.upper() for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")} | flags)


def runtime_precision(compiled: Any) -> str:
    """The lowest precision the compiled model's compute layers run in: int8, bf16, fp16 or fp32."""
    found = set()
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if "layerType" in info and info["layerType"].astype(str) in COMPUTE_LAYERS:
            found.add(RUNTIME_PRECISION.get(info["runtimePrecision"].astype(str).lower(), "fp32"))
    return next((p for p in ("int8", "bf16", "fp16") if p in found), "fp32")


def _dims(shape: Any) -> list[int | None]:
    """A partial shape as a list, ``None`` for a variable dimension."""
    return [d.get_length() if d.is_static else None for d in shape]


def _characters(model: Any, path: Path) -> str | None:
    """The dictionary the file carries: ONNX ``character`` metadata, or the IR's ``rt_info``."""
    if path.suffix.lower() == ".onnx":
        return read_onnx_metadata(path).get("character")
    return model.get_rt_info(IR_CHARACTER_KEY).astype(str) if model.has_rt_info(IR_CHARACTER_KEY) else None
