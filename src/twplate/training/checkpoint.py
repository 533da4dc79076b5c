"""Training checkpoints as recognizers: the dygraph Student behind twplate's own pipeline.

Evaluation during training, ``twplate eval --checkpoint``, ``twplate infer`` and the exporters'
reference all read plates through :class:`twplate.PlateRecognizer`, so a checkpoint is measured
with exactly the resize, batching and decoding of the shipped model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from twplate.charset import Charset
from twplate.model_files import AnySpec, ModelSpec
from twplate.preprocess import PreprocessConfig
from twplate.recognizer import PlateRecognizer

from .config import RunSettings

if TYPE_CHECKING:  # paddle loads only when a checkpoint does
    import paddle

    from .model import PlateRecModel


class CheckpointBackend:
    """A dygraph model as a twplate backend (eval mode per call): the recognizer's
    :class:`~twplate.training.model.PlateRecModel` or the detector's
    :class:`~twplate.training.det.model.PlateDetModel`."""

    name: ClassVar[str] = "paddle-dygraph"
    width_buckets: tuple[int, ...] | None = None

    def __init__(self, model: paddle.nn.Layer) -> None:
        import paddle

        self.model = model
        self._providers = [str(paddle.get_device())]
        self._lock = threading.Lock()

    @staticmethod
    def files_for(spec: AnySpec) -> tuple[str, ...]:
        return ()

    @property
    def providers(self) -> list[str]:
        return list(self._providers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import paddle

        with self._lock, paddle.no_grad():
            was_training = self.model.training
            self.model.eval()
            try:
                return self.model(paddle.to_tensor(np.ascontiguousarray(x, dtype=np.float32))).numpy()
            finally:
                if was_training:
                    self.model.train()


def load_student(checkpoint: str | Path, characters: Sequence[str], time_stride: int | None = None) -> PlateRecModel:
    """The recognizer in eval mode from a ``.pdparams`` checkpoint, or ``"pretrained"`` for PP-OCRv3's weights.

    Its architecture and depth are its run's; ``time_stride`` defaults to the run's (:class:`RunSettings`).
    """

    from .model import load_weights, model_of_run
    from .pretrained import plate_model_from_pretrained

    settings = RunSettings.of(checkpoint)
    stride = time_stride or settings.time_stride
    if str(checkpoint) == "pretrained":
        model = plate_model_from_pretrained(list(characters), time_stride=stride)
    else:
        model = model_of_run(replace(settings, time_stride=stride), len(characters) + 1)
        load_weights(model, checkpoint)
    model.eval()
    return model


def checkpoint_recognizer(model: PlateRecModel, characters: Sequence[str], preprocess: PreprocessConfig,
                          name: str = "checkpoint", batch_size: int = 64,
                          plate_formats: bool | None = None) -> PlateRecognizer:
    """A :class:`PlateRecognizer` that runs ``model`` (dygraph) with twplate's pipeline.

    Plate models are exported with format-aware decoding, so checkpoints use it too unless told.
    """
    spec = ModelSpec(name=name, version="checkpoint", directory=Path("."),
                     charset=Charset.from_iterable(characters), preprocess=preprocess, plate_formats=True)
    return PlateRecognizer.with_backend(CheckpointBackend(model), spec, batch_size=batch_size,
                                        plate_formats=plate_formats)
