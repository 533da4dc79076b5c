"""A fake ONNX Runtime session for the GPU paths on a machine without a GPU: a real CPU session that reports
the providers a test says are in use and records what it was asked (providers, batch shapes, I/O bindings)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

RealSession = ort.InferenceSession


class FakeBinding:
    def __init__(self, session: FakeGpuSession) -> None:
        self.session, self.inputs, self.outputs = session, {}, {}

    def bind_cpu_input(self, name: str, x: np.ndarray) -> None:
        self.inputs[name] = x

    def bind_output(self, name: str, device: str) -> None:
        self.outputs[name] = device

    def copy_outputs_to_cpu(self) -> list[np.ndarray]:
        return self.result


class FakeGpuSession:
    """A real CPU session that reports the providers in ``in_use`` and records what it was asked."""

    in_use = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    requested: list = []
    shapes: list = []
    bound: list = []

    def __init__(self, path: str, options, providers) -> None:
        FakeGpuSession.requested = list(providers)
        self._real = RealSession(path, options, providers=["CPUExecutionProvider"])

    def get_providers(self) -> list[str]:
        return list(self.in_use)

    def run(self, outputs, feeds):
        FakeGpuSession.shapes.append(next(iter(feeds.values())).shape)
        return self._real.run(outputs, feeds)

    def io_binding(self) -> FakeBinding:
        return FakeBinding(self)

    def run_with_iobinding(self, binding: FakeBinding) -> None:
        FakeGpuSession.bound.append(dict(binding.outputs))
        binding.result = self._real.run(None, binding.inputs)

    def __getattr__(self, name: str):
        return getattr(self.__dict__["_real"], name)
