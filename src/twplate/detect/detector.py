"""The text detector: photos in, text boxes out (photo pixel coordinates), on any backend that has the model's files.

Each photo is resized on its own (:func:`~twplate.detect.preprocess.detector_input`); photos that
come out the same size (frames of one camera) share one backend call, up to ``batch_size``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..backends import Backend, load_backend
from ..model_files import DetectorSpec, load_detector_spec
from .postprocess import DBSettings, TextBox, boxes_from_map
from .preprocess import DetectPreprocessConfig, detector_input


class TextDetector:
    """A loaded text detector: load once, call many times, share between threads.

    Args:
        model: ``None`` for the shipped detector (``models/twplate-det``), or a detector's model directory.
        backend: ``"auto"``, ``"onnxruntime"`` or ``"paddle"``.
        batch_size: photos of the same input size per backend call.
        threads: CPU threads for the backend (``None``: the runtime's default).
        limit_side: longest side of the detector input, overriding the model's (``inference.yml``).
        settings: DB post-processing settings (``None``: :class:`DBSettings`' defaults).
        **backend_options: passed to the backend.

    Raises:
        ModelError: the model is missing, corrupt, not a detector or fails its checksum.
        BackendUnavailableError: the backend's runtime is not installed.
    """

    def __init__(self, model: str | os.PathLike[str] | None = None, backend: str = "auto", batch_size: int = 4,
                 threads: int | None = None, limit_side: int | None = None, settings: DBSettings | None = None,
                 **backend_options: Any) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        spec = load_detector_spec(model)
        if limit_side is not None:
            spec = replace(spec, preprocess=DetectPreprocessConfig.from_dict(
                {**spec.preprocess.to_dict(), "limit_side": limit_side}))
        self._setup(spec, load_backend(backend, spec, threads=threads, max_batch=batch_size, **backend_options),
                    batch_size, settings)

    @classmethod
    def with_backend(cls, backend: Backend, spec: DetectorSpec, batch_size: int = 4,
                     settings: DBSettings | None = None) -> TextDetector:
        """A detector around a backend built elsewhere, e.g. a training checkpoint, with the shipped
        detector's resize and post-processing."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        detector = cls.__new__(cls)
        detector._setup(spec, backend, batch_size, settings)
        return detector

    def _setup(self, spec: DetectorSpec, backend: Backend, batch_size: int, settings: DBSettings | None) -> None:
        self.spec: DetectorSpec = spec
        self.backend: Backend = backend
        self.batch_size = batch_size
        self.settings = settings or DBSettings()

    def __repr__(self) -> str:
        return (f"TextDetector(model={self.spec.name!r} {self.spec.version}, backend={self.backend.name!r}, "
                f"providers={self.backend.providers}, limit_side={self.spec.preprocess.limit_side})")

    def __call__(self, photos: Sequence[np.ndarray], min_long_side: int = 0) -> list[list[TextBox]]:
        """Text boxes of each ``(H, W, 3)`` uint8 BGR photo, highest score first, in the photo's pixels.

        A photo whose longest side is shorter than ``min_long_side`` is enlarged until it is that long for the
        network (:meth:`~twplate.detect.preprocess.DetectPreprocessConfig.input_size`): in a small photo, text
        covers too few of the network's cells to be found.
        """
        tensors = [detector_input(photo, self.spec.preprocess, min_long_side) for photo in photos]
        results: list[list[TextBox]] = [[] for _ in photos]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, tensor in enumerate(tensors):
            by_shape.setdefault(tensor.shape, []).append(i)
        for members in by_shape.values():
            for start in range(0, len(members), self.batch_size):
                group = members[start : start + self.batch_size]
                maps = self.backend(np.stack([tensors[i] for i in group]))
                for i, prob in zip(group, maps, strict=True):
                    results[i] = boxes_from_map(prob[0], photos[i].shape[:2], self.settings)
        return results
