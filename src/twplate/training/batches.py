"""Training batches, made on a background thread: draw samples, decode, augment, resize, pad."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import cv2
import numpy as np

from twplate.charset import Charset
from twplate.preprocess import PreprocessConfig, make_batch, resize_to_input

from .augment import TILT_MAX_DEG, augment
from .dataset import MixedSampler, Sample

Batch = TypeVar("Batch")


class Prefetcher(Generic[Batch]):
    """Makes batches (:meth:`_make`) on a background thread, a few ahead of the training loop.

    A failure while making one is raised in the loop, never swallowed. Subclasses set their own
    attributes, then call ``super().__init__()``, which starts the thread.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)
        self.thread.start()

    def _make(self) -> Batch:
        raise NotImplementedError

    def _fill(self) -> None:
        while not self.stopped.is_set():
            item: Batch | Exception
            try:
                item = self._make()
            except Exception as exc:  # surfaced in the training loop, never swallowed
                item = exc
            while not self.stopped.is_set():
                try:
                    self.queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return

    def close(self) -> None:
        """Stop the producer thread and wait for it."""
        self.stopped.set()
        self.thread.join()

    def __iter__(self) -> Iterator[Batch]:
        while True:
            item = self.queue.get()
            if isinstance(item, Exception):
                raise item
            yield item


class BatchMaker(Prefetcher[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """Recognizer batches: draw, decode, augment, resize, pad."""

    def __init__(self, sampler: MixedSampler, charset: Charset, shapes: Sequence[PreprocessConfig], batch_size: int,
                 augment_prob: float, seed: int, time_stride: int = 8, tilt_max_deg: float = TILT_MAX_DEG,
                 far_prob: float = 0.0):
        self.sampler, self.batch_size = sampler, batch_size
        self.time_stride = time_stride
        # each batch is resized as one of these (config.training_shapes)
        self.pres = list(shapes)
        self.charset = charset
        self.augment_prob, self.tilt_max_deg, self.far_prob = augment_prob, tilt_max_deg, far_prob
        self.rng = np.random.default_rng(seed)
        self.cache: dict[Path, np.ndarray] = {}
        super().__init__()

    def _image(self, sample: Sample) -> np.ndarray:
        img = self.cache.get(sample.path)
        if img is None:
            img = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
            if img is None:
                raise OSError(f"cannot read training image {sample.path}")
            if len(self.cache) < 50_000:
                self.cache[sample.path] = img
        return img

    def _make(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        samples = self.sampler.draw(self.batch_size)
        pre = self.pres[self.rng.integers(len(self.pres))]
        crops = []
        for s in samples:
            img = self._image(s)
            if self.augment_prob > 0 and self.rng.random() < self.augment_prob:
                img = augment(img, self.rng, self.tilt_max_deg, self.far_prob)
            crops.append(resize_to_input(img, pre))
        lengths = np.array([len(s.label) for s in samples], dtype=np.int64)
        labels = np.zeros((len(samples), max(lengths)), dtype=np.int32)
        for i, s in enumerate(samples):
            labels[i, : len(s.label)] = self.charset.encode(s.label)
        # CTC needs a time step per character plus a blank between repeats: pad a batch of narrow
        # plates (low floors) wide enough for its longest label, never let the loss go infinite
        need = max(len(s.label) + sum(a == b for a, b in zip(s.label, s.label[1:])) for s in samples)
        width = max(max(c.shape[1] for c in crops), self.time_stride * need)
        return make_batch(crops, pre, width), labels, lengths
