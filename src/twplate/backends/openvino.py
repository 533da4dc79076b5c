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

Streams and shapes, the two ways to feed a CPU faster (both measured in ``docs/openvino.md``):

* ``streams=1`` (default): one stream, every thread works on each call (latency).
* ``streams=S``: the threads form ``S`` streams, and a call of ``n >= 2`` images is split into
  ``min(S, n)`` parts that run at once, one per stream; images do not interact in the network, so
  the output is the one call's. A single image cannot be split: it runs on a one-stream compilation
  with all threads, as with ``streams=1``.
* Static shapes: where every image is read at one width (``PlateRecognizer(input_width=...)``, or a
  model that declares one), the two shapes that recur, a single image and a full batch's part
  (``ceil(max_batch / S)`` images), get compilations of their exact shape at load time, which run
  faster than the dynamic one; any other shape runs on the dynamic compilation.

Thread safety: each calling thread gets its own infer requests on the compiled models (requests
are not shareable; compiled models are), so threads never overwrite each other's tensors. Calls
from several threads share the streams.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ModelError
from ..model_files import OPENVINO_FILES, AnySpec, ModelSpec
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
        max_batch: the largest batch a call brings: with one input width, a full batch's part per stream
            gets a compilation of its own shape (see the module docstring); otherwise unused.
        precision: ``"fp32"``, ``"bf16"`` or ``"int8"`` (see the module docstring); ``None``: fp32
            for a float model, int8 for a quantized one.
        streams: CPU streams a batch is split over (see the module docstring); OpenVINO gives each
            at least one thread, so at most ``threads`` run (:attr:`streams` says how many do).

    Raises:
        ModelError: the model cannot be read, or does not fit ``spec``.
        ValueError: an unknown precision, one this CPU has no native support for, or one the
            model cannot run in; ``streams < 1``.
    """

    name: ClassVar[str] = "openvino"
    width_buckets: tuple[int, ...] | None = None

    def __init__(self, spec: AnySpec, threads: int | None = None, max_batch: int = 32,
                 precision: str | None = None, streams: int = 1) -> None:
        import openvino as ov

        self.check_options({"streams": streams})  # precision: below, against this core's CPU
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
                             "python -m exporters.to_openvino --int8, or load twplate-rec-fast-int8")
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": check_precision(precision, cpu_capabilities(core))}
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)

        def compile_for(shape: list[int] | None, n_streams: int) -> Any:
            """``model`` compiled for ``n_streams`` streams; for inputs of exactly ``shape`` where given."""
            shaped = model
            if shape is not None:
                shaped = model.clone()
                shaped.reshape({self._input: shape})
            hints = {"PERFORMANCE_HINT": "LATENCY"} if n_streams == 1 else {"PERFORMANCE_HINT": "THROUGHPUT",
                                                                            "NUM_STREAMS": n_streams}
            try:
                return core.compile_model(shaped, "CPU", {**config, **hints})
            except Exception as exc:
                raise ModelError(f"openvino cannot compile {path} for the CPU: {exc}") from exc

        self._single = compile_for(None, 1)
        self.precision = runtime_precision(self._single)
        """The precision the compiled model's convolutions and matrix products run in."""
        self._split = compile_for(None, streams) if streams > 1 else self._single
        self.streams: int = int(self._split.get_property("NUM_STREAMS"))
        """The streams a batch is split over (``streams``, or fewer where there are fewer threads)."""
        self._static: dict[tuple[int, ...], Any] = {}
        """Input shape -> the compilation for exactly that shape, where every image has one width."""
        if isinstance(spec, ModelSpec) and spec.preprocess.min_width == spec.preprocess.max_width:
            image = (3, spec.preprocess.height, spec.preprocess.max_width)
            part = math.ceil(max_batch / self.streams)
            self._static = {(1, *image): compile_for([1, *image], 1)}
            if part > 1:
                self._static.update({(part, *image): compile_for([part, *image], self.streams)})
        self.static_batches: tuple[int, ...] = tuple(sorted(shape[0] for shape in self._static))
        """Batch sizes (of a call, or of a call's part on one stream) that run on a compilation of their exact shape."""
        self._requests = threading.local()

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        """The IR where the model's ``inference.yml`` lists one (with its checksums), else the ONNX file: an IR
        that merely lies in the folder may hold other weights, and would be read unchecked."""
        listed = all(f in spec.checksums for f in OPENVINO_FILES)
        return OPENVINO_FILES if listed and spec.has(OPENVINO_FILES) else (spec.onnx_file,)

    @staticmethod
    def check_options(options: Mapping[str, Any]) -> None:
        """Refuse ``streams < 1``, and a ``precision`` that is unknown or that this CPU has no native
        support for (:func:`check_precision`; see :meth:`twplate.backends.base.BackendFactory.check_options`)."""
        import openvino as ov

        streams = options.get("streams", 1)
        if streams < 1:
            raise ValueError(f"streams must be >= 1, not {streams}")
        if options.get("precision") is not None:
            check_precision(options["precision"], cpu_capabilities(ov.Core()))

    @property
    def providers(self) -> list[str]:
        """``["CPU", precision]``: the device and the precision really in use, e.g. ``["CPU", "fp32"]``."""
        return ["CPU", self.precision]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` float32 -> ``(N, T, C)`` float32 probabilities: ``x`` split over the streams,
        the parts run at once on this thread's infer requests."""
        import openvino as ov

        x = np.ascontiguousarray(x, dtype=np.float32)
        parts = np.array_split(x, min(self.streams, len(x))) if len(x) > 1 else [x]
        running = []
        for stream, part in enumerate(parts):
            compiled = self._static.get(part.shape, self._single if len(parts) == 1 else self._split)
            request = self._requests_of(compiled)[stream]
            request.set_input_tensor(ov.Tensor(part, shared_memory=True))  # part outlives the wait below
            request.start_async()
            running.append(request)
        for request in running:
            request.wait()
        # copies: a request reuses its output tensor on its next call
        outputs = [np.array(r.get_output_tensor(0).data, dtype=np.float32) for r in running]
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def _requests_of(self, compiled: Any) -> list[Any]:
        """This thread's infer requests on ``compiled``, one per stream (made on first use)."""
        made: dict[int, list[Any]] = self._requests.__dict__.setdefault("made", {})
        if id(compiled) not in made:
            made[id(compiled)] = [compiled.create_infer_request() for _ in range(self.streams)]
        return made[id(compiled)]


def check_precision(precision: str, capabilities: Collection[str]) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` for ``precision`` on a CPU with ``capabilities``.

    ``capabilities``: OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU and its instruction-set
    flags, upper case (see :func:`cpu_capabilities`).

    Raises:
        ValueError: ``precision`` is unknown, or the CPU has no native support for it (bf16 needs
            ``BF16``: AMX or AVX512_BF16; int8 needs one of :data:`INT8_FLAGS`), naming what is missing.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"openvino precision must be one of {PRECISIONS}, not {precision!r}")
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
