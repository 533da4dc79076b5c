"""The pipeline: image -> tensor -> probabilities -> text, for one image or many.

``load_image`` -> ``resize_to_input`` (on a few threads for long lists) -> batches of one width
(``width_groups``; each image padded up to the backend's ``width_buckets`` where it has them, as GPU
sessions do, never to another image's width), normalised a batch at a time (``make_batch``) ->
backend -> CTC decoding that knows Taiwan plate formats (``decode_with_formats``) -> plate
confidence (``plate_confidence``: calibrated where the model carries a map) -> results in input
order. A bad image becomes a result with ``.error`` set; it never stops the others.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, overload

import cv2
import numpy as np

from .backends import Backend, load_backend
from .confidence import plate_confidence
from .decode import Decoded, ctc_greedy_decode, decode_with_formats
from .errors import ImageError
from .image import ImageInput, ImageInputs, describe, load_image
from .model_files import ModelSpec, load_model_spec
from .preprocess import bucket_width, make_batch, resize_to_input, width_groups
from .result import PlateResult

ModelInput = str | os.PathLike[str] | None

CHUNK_BATCHES = 16
"""Images are preprocessed ``batch_size * CHUNK_BATCHES`` at a time, so a long list needs bounded memory."""

PARALLEL_MIN_IMAGES = 16
"""Fewer encoded images than this are decoded on the calling thread: handing them to a pool costs more than it saves."""

INPUT_WIDTHS = (16, 2048)
"""The ``input_width`` allowed: narrower gives a CTC model too few steps for any plate (4 at 4 px a step), wider
only costs memory (a batch of 32 at 2048 px is 38 MB of input; the shipped model reads at most 320)."""

ENCODED = (str, os.PathLike, bytes, bytearray, memoryview)
"""Inputs that need decoding. Only lists of these go to the load threads: decoding a JPEG is worth a
thread hand-off (256 val crops from files: 99 ms on 2 threads vs 127 ms on one), resizing an array is
not (the same crops as arrays: 41 ms vs 20 ms, the threads contending for the GIL)."""


class PlateRecognizer:
    """A loaded model: load once, call many times, share between threads.

    Args:
        model: ``None`` for the shipped model, a shipped model's name (``"twplate-rec-fast"``, the faster
            one), or a model directory or ``.onnx`` file.
        backend: ``"auto"``, ``"onnxruntime"``, ``"paddle"`` or ``"openvino"``.
        batch_size: images per backend call.
        threads: CPU threads for the backend (``None``: the runtime's default).
        plate_formats: fit readings to Taiwan plate formats: a greedy reading that fits none
            (``221PSE``, ``AUM-Z608``) is replaced by the most probable reading that fits one.
            ``None`` (default): as the model declares (``decode.plate_formats`` in its
            ``inference.yml``; true for twplate's plate models); ``False``: plain greedy CTC.
        load_threads: threads that decode and resize the images of a list of files or encoded
            bytes (OpenCV releases the GIL; arrays are resized on the calling thread, which is
            faster); ``None``: one per CPU, at most 4; ``1``: on the calling thread.
        input_width: read every image at ``height x input_width``, whatever its aspect, instead of
            the model's width by aspect: all images share one batch shape, and a GPU sees one input
            shape (either way an image reads the same alone or in any batch: batches never mix
            widths, see :func:`~twplate.preprocess.width_groups`). Faster, and for the shipped model a
            little less accurate than by aspect (figures: docs/benchmarks.md, "Width policy").
        **backend_options: passed to the backend, e.g. ``providers=[...]`` (onnxruntime),
            ``device="cpu"`` (paddle) or ``precision="bf16"`` (openvino, docs/openvino.md).

    Raises:
        ModelError: the model is missing, corrupt, fails its checksum or does not fit its dictionary.
        BackendUnavailableError: the backend's runtime is not installed.

    Calls keep no state on the object, so one recognizer is safe to share between threads; how
    much they overlap depends on the backend (see :mod:`twplate.backends`).
    """

    def __init__(self, model: ModelInput = None, backend: str = "auto", batch_size: int = 32,
                 threads: int | None = None, plate_formats: bool | None = None, load_threads: int | None = None,
                 input_width: int | None = None, **backend_options: Any) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        spec = load_model_spec(model)
        if input_width is not None:  # before the backend: GPU sessions size their width buckets from it
            if not INPUT_WIDTHS[0] <= input_width <= INPUT_WIDTHS[1]:
                raise ValueError(f"input_width must be between {INPUT_WIDTHS[0]} and {INPUT_WIDTHS[1]} pixels, "
                                 f"not {input_width}")
            spec = replace(spec, preprocess=replace(spec.preprocess, min_width=input_width, max_width=input_width))
        self._setup(spec, load_backend(backend, spec, threads=threads, max_batch=batch_size, **backend_options),
                    batch_size, plate_formats, load_threads)
        self._options: dict[str, Any] | None = dict(
            backend=self.backend.name, batch_size=batch_size, threads=threads, plate_formats=plate_formats,
            load_threads=load_threads, input_width=input_width, **backend_options)

    @classmethod
    def with_backend(cls, backend: Backend, spec: ModelSpec, batch_size: int = 32,
                     plate_formats: bool | None = None, load_threads: int | None = None) -> PlateRecognizer:
        """A recognizer around a backend built elsewhere, e.g. a training checkpoint.

        The pipeline is the same as for shipped models, so a checkpoint's accuracy is measured
        through exactly the preprocessing and decoding that users get.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        recognizer = cls.__new__(cls)
        recognizer._setup(spec, backend, batch_size, plate_formats, load_threads)
        recognizer._options = None
        return recognizer

    def _setup(self, spec: ModelSpec, backend: Backend, batch_size: int, plate_formats: bool | None,
               load_threads: int | None) -> None:
        self.spec, self.backend, self.batch_size = spec, backend, batch_size
        self._decode = _decoder(spec, plate_formats)
        workers = load_threads if load_threads is not None else min(4, os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"load_threads must be >= 1, not {workers}")
        # threads start on first use and end with the recognizer
        self._load_pool = ThreadPoolExecutor(workers, thread_name_prefix="twplate-load") if workers > 1 else None

    def sibling(self, model: ModelInput) -> PlateRecognizer:
        """``model`` loaded with this recognizer's options (its backend as resolved, batch size, threads, decoding,
        load threads, width policy and backend options), e.g. the photo reader's second model for small plates.

        Raises:
            ValueError: this recognizer was built around a backend (:meth:`with_backend`): its options are not known.
            ModelError: as for the constructor.
        """
        if self._options is None:
            raise ValueError(f"{self!r} was built around a backend (with_backend): load {model!r} yourself")
        return PlateRecognizer(model, **self._options)

    def __repr__(self) -> str:
        return (f"PlateRecognizer(model={self.spec.name!r} {self.spec.version}, backend={self.backend.name!r}, "
                f"providers={self.backend.providers}, batch_size={self.batch_size})")

    @overload
    def run(self, images: list[ImageInput] | tuple[ImageInput, ...]) -> list[PlateResult]: ...
    @overload
    def run(self, images: list[ImageInputs] | tuple[ImageInputs, ...]) -> list[PlateResult]: ...
    @overload
    def run(self, images: ImageInput) -> PlateResult: ...

    def run(self, images: ImageInput | list[Any] | tuple[Any, ...]) -> PlateResult | list[PlateResult]:
        """Read one image (returns a :class:`PlateResult`) or a list/tuple of images (returns a list).

        A single bad image raises :class:`ImageError`; in a list, the bad image's result carries
        the error instead (``result.error``, empty text) and the others are read normally.
        """
        if isinstance(images, (list, tuple)):
            return self.run_many(images)
        result = self.run_many([images])[0]
        if result.error is not None:
            raise result.error
        return result

    __call__ = run

    def run_many(self, images: Sequence[ImageInput]) -> list[PlateResult]:
        """Read a sequence of images; every item gets a result, in order, errors included."""
        step = self.batch_size * CHUNK_BATCHES
        results: list[PlateResult] = []
        for start in range(0, len(images), step):
            results.extend(self._run_chunk(images[start : start + step]))
        return results

    def _run_chunk(self, images: Sequence[ImageInput]) -> list[PlateResult]:
        sources = [os.fspath(x) if isinstance(x, (str, os.PathLike)) else None for x in images]
        results: list[PlateResult | None] = [None] * len(images)
        crops: dict[int, np.ndarray] = {}
        encoded = sum(isinstance(x, ENCODED) for x in images)
        pool = self._load_pool if encoded >= PARALLEL_MIN_IMAGES else None
        for i, outcome in enumerate((pool.map if pool else map)(self._preprocess, images)):
            if isinstance(outcome, ImageError):
                results[i] = PlateResult("", 0.0, (), error=outcome, source=sources[i])
            else:
                crops[i] = outcome
        indices = list(crops)
        # an image's batch width is its own (or its bucket's), never its batch-mates'
        widths = [bucket_width(crops[i].shape[1], self.backend.width_buckets) for i in indices]
        for group in width_groups(widths, self.batch_size):
            members = [indices[g] for g in group]
            probs = self.backend(make_batch([crops.pop(i) for i in members], self.spec.preprocess, widths[group[0]]))
            for i, result in zip(members, self._readings(probs, [sources[i] for i in members]), strict=True):
                results[i] = result
        return results  # type: ignore[return-value]  # every index was filled above

    def decode(self, probs: np.ndarray) -> list[PlateResult]:
        """The readings of per-step character probabilities ``(N, T, C)``, as the backend gives them for a batch:
        decoded as this recognizer reads (plate formats or greedy), each with its calibrated plate confidence.
        For tools that need the probabilities themselves as well (e.g. ``scripts/label_audit.py``)."""
        return self._readings(probs, [None] * len(probs))

    def _readings(self, probs: np.ndarray, sources: Sequence[str | None]) -> list[PlateResult]:
        """:meth:`decode`, each reading carrying its image's source."""
        return [PlateResult(d.text, plate_confidence(d.char_confidences, self.spec.calibration), d.char_confidences,
                            source=source, format_edits=d.format_edits)
                for d, source in zip(self._decode(probs, self.spec.charset.characters), sources, strict=True)]

    def _preprocess(self, image: ImageInput) -> np.ndarray | ImageError:
        """``image`` at the model's input size (uint8; batches are normalised later), or the error naming why not."""
        try:
            bgr = load_image(image)
        except ImageError as exc:
            return exc
        try:
            return resize_to_input(bgr, self.spec.preprocess)
        except cv2.error as exc:
            error = ImageError(f"{describe(image)}: cannot resize ({exc})")
            error.__cause__ = exc
            return error


def _decoder(spec: ModelSpec, plate_formats: bool | None) -> Callable[[np.ndarray, Sequence[str]], list[Decoded]]:
    """Format-aware decoding where asked for, or where the model declares it reads Taiwan plates."""
    wanted = spec.plate_formats if plate_formats is None else plate_formats
    return decode_with_formats if wanted else ctc_greedy_decode


_default_recognizers: dict[tuple[str | None, str, int], PlateRecognizer] = {}
_default_lock = threading.Lock()


def get_recognizer(model: ModelInput = None, backend: str = "auto", batch_size: int = 32) -> PlateRecognizer:
    """A recognizer shared by every caller asking for the same model, backend and batch size."""
    key = (None if model is None else os.path.abspath(model), backend, batch_size)
    with _default_lock:
        if key not in _default_recognizers:
            _default_recognizers[key] = PlateRecognizer(model, backend=backend, batch_size=batch_size)
        return _default_recognizers[key]


@overload
def recognize(image_or_images: list[ImageInput] | tuple[ImageInput, ...], *, backend: str = ...,
              model: ModelInput = ..., batch_size: int = ...) -> list[PlateResult]: ...
@overload
def recognize(image_or_images: list[ImageInputs] | tuple[ImageInputs, ...], *, backend: str = ...,
              model: ModelInput = ..., batch_size: int = ...) -> list[PlateResult]: ...
@overload
def recognize(image_or_images: ImageInput, *, backend: str = ..., model: ModelInput = ...,
              batch_size: int = ...) -> PlateResult: ...


def recognize(image_or_images: ImageInput | list[Any] | tuple[Any, ...], *, backend: str = "auto",
              model: ModelInput = None, batch_size: int = 32) -> PlateResult | list[PlateResult]:
    """Read plates with a cached :class:`PlateRecognizer` (loaded on first use).

    >>> from twplate import recognize
    >>> recognize("plate.jpg").text            # doctest: +SKIP
    'ABC-1234'
    """
    return get_recognizer(model, backend, batch_size).run(image_or_images)
