"""Plates in whole photos: find every plate, read it, say where it is.

photo (:func:`~twplate.image.load_image_and_scale`) -> text boxes (:class:`~twplate.detect.detector.TextDetector`)
-> crops (perspective, a margin around each box) -> readings (:class:`~twplate.recognizer.PlateRecognizer`);
a small box is also looked at closer (its surroundings enlarged, the detector run on them again), and it and
each line found there read at several margins by a plate reader trained on far plates -> plates
(:class:`PlateRules`: format, confidences, the box's shape; of a small box's readings, the plate most of them
agree on, :func:`agreed_plate`) -> one result per plate (:func:`merge_overlapping`), most confident first.
:meth:`PhotoReader.read_crops` reads plate crops, and reads a narrow one (a plate hanging steeply in its box)
this way as well.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, overload

import cv2
import numpy as np

from .decode.formats import is_plate
from .detect.detector import TextDetector
from .detect.postprocess import DBSettings, TextBox
from .errors import ImageError
from .image import ImageInput, ImageInputs, load_image_and_scale
from .model_files import default_model_dir, default_small_model_dir, fast_model_dir
from .recognizer import CHUNK_BATCHES, ModelInput, PlateRecognizer
from .result import PlateResult

CHUNK_PHOTOS = 16
"""Photos are read at most this many at a time, so a long list needs bounded memory."""

MAX_CHUNK_PIXELS = 50_000_000
"""A chunk of photos (or of :meth:`PhotoReader.read_crops`' crops) also ends once its decoded images hold this
many pixels (150 MB as BGR), so that a list of 40-megapixel photos, or of huge crops, needs bounded memory too."""

CLOSER_HEIGHT = 64.0
"""A box shorter than :attr:`PlateRules.look_closer_below` is enlarged until it is this tall (cubic interpolation)
for the closer look: the detector then boxes the plate's characters tightly, where at a box height of 15-30 px
its box is loose around them."""

CLOSER_MARGIN = (1.0, 0.75)
"""How much of a small box's surroundings the closer look takes in: ``(left and right, top and bottom)`` times its
height, so that a box that cut a character off, or boxed only part of the plate, still has the plate inside."""

CLOSER_CHUNK = 32
"""Small boxes are looked at closer this many at a time: a photo full of small text needs bounded memory (a patch's
detector input is up to about 1 MB of float32)."""

STEEP_CROP_ASPECT = 1.4
"""A plate crop narrower than this (width / height) is also read as a photo by :meth:`PhotoReader.read_crops`.

A plate hanging steeply inside an axis-aligned box fills little of it, slanted, so the recognizer
sees small, turned characters. 1.4 was chosen on the 1,473 real train crops: read both ways, the
more confident plate reading gains 3 crops below 1.4 and loses none; wider crops gain nothing more
(``scripts/steep_crops.py``; docs/accuracy.md, section 6)."""


@dataclass(frozen=True)
class PlateRules:
    """What makes a detected, read text line a plate rather than other text.

    Attributes:
        min_confidence: the reading's mean character confidence.
        min_char_confidence: its least confident character: a sign read into a plate format has at
            least one character the recognizer was unsure of.
        min_detection_score: the detector's mean text probability inside the box.
        min_photo_side: a photo whose longest side is shorter than this is enlarged to it for the detector: in a
            small photo a plate's characters cover too few of the detector's cells to be found (docs/photos.md,
            "Small photos"). Boxes come back in the photo's own pixels and are read from it as it is; the closer
            look's patches (below) and the crops of :meth:`PhotoReader.read_crops` (a plate fills its crop) are
            not enlarged. 0 turns it off.
        min_height: the box's height in the pixels the recognizer gets (the photo's own; for a JPEG over the
            decode limit, its pixels as decoded at 1/2, 1/4 or 1/8): below this it cannot read a plate.
        aspect: the range of the box's width / height, checked before reading: a plate's number line
            is wider than tall (2.1 to 3.9 for the 217 plates found in the shared scenes).
        char_aspect: the range of the box's width per character read (the dash not counted) over
            its height. Plate characters have fixed proportions (0.35 to 0.56 for the plates found
            in the shared scenes); a shop sign, a dealer frame or a badge read into a plate format
            gives fewer characters than it has, so more width per character (0.82 to 2.2 for the
            false readings there).
        max_format_edits: the most characters the plate formats may have changed inside the recognizer's
            own reading (:attr:`~twplate.result.PlateResult.format_edits`). On 1,769 real plate crops no
            reading needed more than one; car badges and signs forced into a format can need two or more
            (``HYUNDAI`` read ``HY-LU-17U-11``, fitted to ``HYL-1711``).
        margin: the crop is the box grown by these fractions of its height, ``(left and right,
            top and bottom)``: the detector boxes the characters, the recognizer was trained on whole
            plates, border included; and a box that ends on a character's edge does not cut it.
        look_closer_below: a box shorter than this (photo pixels) is also looked at closer: its
            surroundings are enlarged (:data:`CLOSER_HEIGHT`, :data:`CLOSER_MARGIN`), the detector is
            run on them again and each line it finds is read. Far plates in dash-cam frames get loose
            boxes and small, blurred crops; looked at closer, more of them read right
            (docs/photos.md, "Small plates"). 0 turns it off (and the votes below with it).
        small_margins: a box shorter than ``look_closer_below``, and each line its closer look finds, is
            read with the first of these margins and, where that reading is a plate number, with the others too.
        min_votes: a small box's plate is the text its readings (every margin, of the box and of each line
            of its closer look) give most often, kept only where at least this many give it. A far plate's
            misreading changes with a pixel of crop; its true reading mostly does not (docs/photos.md,
            "Small plates").
    """

    min_confidence: float = 0.8
    min_char_confidence: float = 0.3
    min_detection_score: float = 0.5
    min_photo_side: int = 480
    min_height: float = 8.0
    aspect: tuple[float, float] = (1.2, 8.0)
    char_aspect: tuple[float, float] = (0.25, 0.75)
    max_format_edits: int = 1
    margin: tuple[float, float] = (0.5, 0.25)
    look_closer_below: float = 32.0
    small_margins: tuple[tuple[float, float], ...] = ((0.5, 0.25), (0.35, 0.15), (0.65, 0.35))
    min_votes: int = 2


class PhotoReader:
    """A text detector and a plate reader, loaded once: call it with photos, share it between threads.

    Args:
        model: the plate reader (``None``: the shipped one), as for :class:`~twplate.PlateRecognizer`.
        detector: the text detector's model directory (``None``: the shipped ``twplate-det``), or a
            loaded :class:`~twplate.detect.detector.TextDetector`, which keeps its own input limit and
            post-processing (``backend``, ``threads`` and ``backend_options`` then load only the recognizer).
        backend: ``"auto"``, ``"onnxruntime"``, ``"paddle"`` or ``"openvino"``, for every model.
        batch_size: crops per recognizer call (the detector takes photos of one size together, 4 at most).
        threads: CPU threads for each backend (``None``: the runtime's default).
        limit_side: longest side of the detector's input (``None``: the detector's own, 1600 for the shipped one).
        rules: what counts as a plate (``None``: :class:`PlateRules`' defaults).
        db_settings: the detector's post-processing (``None``: the defaults of
            :class:`~twplate.detect.postprocess.DBSettings`).
        recognizer: a loaded plate reader to use instead of loading ``model``, e.g. one already
            reading crops elsewhere in the process (a recognizer is safe to share between threads).
            It keeps its own backend, batch size and options; ``backend``, ``threads`` and
            ``backend_options`` then load only the detector, and ``batch_size`` is not used.
        small_model: the plate reader for small boxes, those shorter than :attr:`PlateRules.look_closer_below`
            (far plates): ``None``: the shipped ``twplate-rec-small`` (trained on plates shrunk that far) where
            the plate reader is a shipped one (``twplate-rec``, ``twplate-rec-fast``), else the plate reader
            itself; ``False``: the plate reader itself; a model directory or ``.onnx`` file, loaded with the
            plate reader's options (:meth:`~twplate.PlateRecognizer.sibling`); or a loaded
            :class:`~twplate.PlateRecognizer`.
        **backend_options: passed to every model's backend, e.g. ``precision="bf16"`` on openvino (docs/photos.md).

    Raises:
        ValueError: both ``model`` and ``recognizer`` are given, or ``limit_side`` or ``db_settings`` with a
            loaded detector, or a small-plate reader to load (a path, or by default beside the shipped plate
            reader) for a ``recognizer`` built around a backend (:meth:`~twplate.PlateRecognizer.with_backend`).
        ModelError: a model is missing, corrupt or of the wrong kind.
        BackendUnavailableError: the backend's runtime is not installed.
    """

    def __init__(self, model: ModelInput = None, detector: ModelInput | TextDetector = None, backend: str = "auto",
                 batch_size: int = 32, threads: int | None = None, limit_side: int | None = None,
                 rules: PlateRules | None = None, db_settings: DBSettings | None = None,
                 recognizer: PlateRecognizer | None = None,
                 small_model: ModelInput | PlateRecognizer | Literal[False] = None, **backend_options: Any) -> None:
        if model is not None and recognizer is not None:
            raise ValueError(f"give PhotoReader a model or a loaded recognizer, not both (model={model!r}, "
                             f"recognizer={recognizer!r})")
        if isinstance(detector, TextDetector) and (limit_side is not None or db_settings is not None):
            raise ValueError("limit_side and db_settings belong to the loaded detector: give them to TextDetector "
                             f"(limit_side={limit_side!r}, db_settings={db_settings!r})")
        if not isinstance(detector, TextDetector):
            detector = TextDetector(detector, backend=backend, threads=threads, limit_side=limit_side,
                                    settings=db_settings, **backend_options)
        self.detector = detector
        if recognizer is None:
            recognizer = PlateRecognizer(model, backend=backend, batch_size=batch_size, threads=threads,
                                         load_threads=1, **backend_options)
        self.recognizer = recognizer
        if small_model is None:
            small_model = default_small_model_dir() if _is_shipped(recognizer) else False
        if small_model is False:
            small_model = recognizer
        self.small_recognizer = (small_model if isinstance(small_model, PlateRecognizer)
                                 else recognizer.sibling(small_model))
        self.rules = rules or PlateRules()

    def __repr__(self) -> str:
        small = "" if self.small_recognizer is self.recognizer else f", small_recognizer={self.small_recognizer!r}"
        rules = "" if self.rules == PlateRules() else f", rules={self.rules!r}"  # what eval-photos' JSON records
        return f"PhotoReader(detector={self.detector!r}, recognizer={self.recognizer!r}{small}{rules})"

    @overload
    def run(self, photos: list[ImageInput] | tuple[ImageInput, ...]) -> list[list[PlateResult]]: ...
    @overload
    def run(self, photos: list[ImageInputs] | tuple[ImageInputs, ...]) -> list[list[PlateResult]]: ...
    @overload
    def run(self, photos: ImageInput) -> list[PlateResult]: ...

    def run(self, photos: ImageInput | list[Any] | tuple[Any, ...]) -> list[PlateResult] | list[list[PlateResult]]:
        """The plates of one photo (a list of :class:`PlateResult`, most confident first; empty if none),
        or of each photo of a list or tuple (a list of such lists).

        A single bad photo raises :class:`ImageError`; in a list, a bad photo's entry is a list of one
        result whose ``error`` is set (empty text, no box), and the other photos are read normally.
        """
        if isinstance(photos, (list, tuple)):
            return self.run_many(photos)
        plates = self.run_many([photos])[0]
        if plates and plates[0].error is not None:
            raise plates[0].error
        return plates

    __call__ = run

    def run_many(self, photos: Sequence[ImageInput]) -> list[list[PlateResult]]:
        """Read a sequence of photos; every photo gets an entry, in order, errors included."""
        results: list[list[PlateResult]] = []
        for chunk in _decoded_chunks(photos, CHUNK_PHOTOS):
            plates = self._plates(chunk, self.rules.min_photo_side)
            results.extend([chunk.failed[i]] if i in chunk.failed else plates[i] for i in range(len(chunk.sources)))
            del chunk  # its pixels go before the next chunk decodes
        return results

    def read_crops(self, crops: Sequence[ImageInput]) -> list[PlateResult]:
        """Read plate crops (one plate each, e.g. boxes of another plate detector): one result per crop, in order.

        Each crop is read as :class:`~twplate.PlateRecognizer` reads it. A crop narrower than
        :data:`STEEP_CROP_ASPECT` (a plate hanging steeply inside an axis-aligned box) is also read as a
        photo: the detector finds the plate's number line and cuts it out upright. The more confident of
        the two readings is kept, the photo's only where it is a plate by :attr:`rules`. Results carry no
        box, as crop readings; a crop that cannot be loaded gets a result with ``error`` set.
        """
        results: list[PlateResult] = []
        for chunk in _decoded_chunks(crops, self.recognizer.batch_size * CHUNK_BATCHES):
            indices = list(chunk.images)
            readings = dict(zip(indices, self.recognizer.run_many([chunk.images[i] for i in indices]), strict=True))
            # a crop is read as it is: its plate fills it, there is nothing small to enlarge
            upright = self._plates(chunk.only(lambda image: image.shape[1] < STEEP_CROP_ASPECT * image.shape[0]), 0)
            for i, source in enumerate(chunk.sources):
                if i in chunk.failed:
                    results.append(chunk.failed[i])
                    continue
                reading, plates = readings[i], upright.get(i)
                if plates and plates[0].confidence > reading.confidence:  # plates: most confident first
                    reading = replace(plates[0], box=None, detection_score=None)
                results.append(replace(reading, source=source))
            del chunk  # its pixels go before the next chunk decodes
        return results

    def _plates(self, chunk: _Decoded, min_long_side: int) -> dict[int, list[PlateResult]]:
        """The plates found in each decoded photo of ``chunk`` (by position), most confident first, their boxes
        in the photo's own pixels; a photo whose longest side is shorter than ``min_long_side`` is enlarged to
        it for the detector."""
        images = chunk.images
        found: dict[int, list[PlateResult]] = {i: [] for i in images}
        indices = list(images)
        candidates: list[tuple[int, TextBox]] = []
        detected = self.detector([images[i] for i in indices], min_long_side)
        for i, boxes in zip(indices, detected, strict=True):
            candidates.extend((i, box) for box in boxes if self._plausible_box(box))
        small = [k for k, (_, box) in enumerate(candidates) if self._is_small(box)]
        plain = [k for k, (_, box) in enumerate(candidates) if not self._is_small(box)]
        crops = [crop_box(images[candidates[k][0]], candidates[k][1].points, self.rules.margin) for k in plain]
        readings = {k: [(reading, candidates[k][1])]
                    for k, reading in zip(plain, self.recognizer.run_many(crops), strict=True)}
        readings.update(zip(small, self._read_small([(images[candidates[k][0]], candidates[k][1]) for k in small]),
                            strict=True))
        for k, (i, box) in enumerate(candidates):
            agreed = agreed_plate(readings[k], self._is_plate, self.rules.min_votes if self._is_small(box) else 1)
            if agreed:
                plate, plate_box = agreed
                found[i].append(replace(plate, source=chunk.sources[i], detection_score=plate_box.score,
                                        box=_corners(plate_box.points * chunk.scales[i])))
        return {i: merge_overlapping(plates) for i, plates in found.items()}

    def _read_small(self, boxes: Sequence[tuple[np.ndarray, TextBox]]) -> list[list[tuple[PlateResult, TextBox]]]:
        """For each small box in its photo, in order: its readings, and those of each text line the detector finds
        in the box's surroundings enlarged (the closer look), each with its box in the photo's pixels. Each line is
        read by :attr:`small_recognizer` at the first of :attr:`PlateRules.small_margins`, and at the others where
        that reading is a plate number."""
        margins = self.rules.small_margins
        found: list[list[tuple[PlateResult, TextBox]]] = []
        for start in range(0, len(boxes), CLOSER_CHUNK):
            part = boxes[start : start + CLOSER_CHUNK]
            patches, to_photo = [], []
            for photo, box in part:
                matrix, size = upright_transform(box.points, CLOSER_MARGIN, CLOSER_HEIGHT / box.size[1])
                patches.append(cv2.warpPerspective(photo, matrix, size, flags=cv2.INTER_CUBIC,
                                                   borderMode=cv2.BORDER_REPLICATE))
                to_photo.append(np.linalg.inv(matrix))
            lines = []  # (box number in part, the image it is cut from, its points there, its box in the photo)
            for k, ((photo, box), patch, back, seen) in enumerate(zip(part, patches, to_photo, self.detector(patches),
                                                                     strict=True)):
                lines.append((k, photo, box.points, box))
                for line in seen:
                    if self._plausible_box(line):
                        in_photo = cv2.perspectiveTransform(line.points[None].astype(np.float64), back)[0]
                        lines.append((k, patch, line.points, TextBox(in_photo.astype(np.float32), line.score)))
            first = self.small_recognizer.run_many([crop_box(image, points, margins[0])
                                                    for _, image, points, _ in lines])
            # a line first read as no plate number (a date, a sign) is read once; a plate number's line is read at
            # the other margins too, so that its readings vote
            check = [reading.ok and is_plate_number(reading.text) for reading in first]
            crops = [crop_box(image, points, margin)
                     for (_, image, points, _), checked in zip(lines, check, strict=True) if checked
                     for margin in margins[1:]]
            more = iter(self.small_recognizer.run_many(crops))
            readings: list[list[tuple[PlateResult, TextBox]]] = [[] for _ in part]
            for (k, _, _, in_photo_box), reading, checked in zip(lines, first, check, strict=True):
                readings[k].append((reading, in_photo_box))
                if checked:
                    readings[k].extend((next(more), in_photo_box) for _ in margins[1:])
            found.extend(readings)
        return found

    def _is_small(self, box: TextBox) -> bool:
        """The box is shorter than :attr:`PlateRules.look_closer_below`: looked at closer, read at several margins."""
        return 0 < box.size[1] < self.rules.look_closer_below

    def _plausible_box(self, box: TextBox) -> bool:
        """The box's score and shape allow a plate (checked before reading, to save the recognizer's time)."""
        width, height = box.size
        low, high = self.rules.aspect
        return (box.score >= self.rules.min_detection_score and height >= self.rules.min_height
                and low * height <= width <= high * height)

    def _is_plate(self, reading: PlateResult, box: TextBox) -> bool:
        """The reading is a plate number, confidently read (and fitted to a plate format by few changes, if any),
        from a box shaped for that many characters."""
        rules = self.rules
        chars = reading.char_confidences
        if not (reading.ok and is_plate_number(reading.text) and bool(chars)
                and float(np.mean(chars)) >= rules.min_confidence and min(chars) >= rules.min_char_confidence
                and reading.format_edits <= rules.max_format_edits):
            return False
        width, height = box.size
        low, high = rules.char_aspect
        return low <= width / len(reading.text.replace("-", "")) / height <= high


def _is_shipped(recognizer: PlateRecognizer) -> bool:
    """The recognizer reads with a shipped plate reader (``models/twplate-rec`` or ``models/twplate-rec-fast``),
    whose dictionary ``twplate-rec-small`` shares."""
    return recognizer.spec.directory.resolve() in {default_model_dir().resolve(), fast_model_dir().resolve()}


@dataclass
class _Decoded:
    """A chunk of inputs, decoded. Each dict is keyed by the input's position in the chunk.

    Attributes:
        sources: the path each input came from (``None`` if none), for every input of the chunk.
        images: the inputs that decoded.
        scales: for each of those, the factor it was decoded smaller by (:func:`~twplate.image.load_image_and_scale`).
        failed: for each input that did not decode, a result carrying the error that names it.
    """

    sources: list[str | None] = field(default_factory=list)
    images: dict[int, np.ndarray] = field(default_factory=dict)
    scales: dict[int, int] = field(default_factory=dict)
    failed: dict[int, PlateResult] = field(default_factory=dict)

    def only(self, keep: Callable[[np.ndarray], bool]) -> _Decoded:
        """The same chunk with only the decoded images ``keep`` accepts (the others neither read nor failed)."""
        kept = {i: image for i, image in self.images.items() if keep(image)}
        return _Decoded(self.sources, kept, {i: self.scales[i] for i in kept})


def _decoded_chunks(inputs: Sequence[ImageInput], max_inputs: int) -> Iterator[_Decoded]:
    """``inputs`` decoded a chunk at a time: at most ``max_inputs`` inputs, and no more than
    :data:`MAX_CHUNK_PIXELS` decoded pixels unless one image alone has more. While the caller reads a chunk,
    only the next input is held decoded besides it."""
    chunk, pixels = _Decoded(), 0
    for item in inputs:
        source = os.fspath(item) if isinstance(item, (str, os.PathLike)) else None
        decoded: tuple[np.ndarray, int] | PlateResult  # the image and its scale, or the error's result
        try:
            decoded = load_image_and_scale(item)
        except ImageError as exc:
            decoded = PlateResult("", 0.0, error=exc, source=source)
        size = 0 if isinstance(decoded, PlateResult) else decoded[0].shape[0] * decoded[0].shape[1]
        if chunk.sources and (len(chunk.sources) == max_inputs or pixels + size > MAX_CHUNK_PIXELS):
            yield chunk
            chunk, pixels = _Decoded(), 0
        i = len(chunk.sources)
        chunk.sources.append(source)
        if isinstance(decoded, PlateResult):
            chunk.failed[i] = decoded
        else:
            chunk.images[i], chunk.scales[i] = decoded
            pixels += size
    if chunk.sources:
        yield chunk


def is_plate_number(text: str) -> bool:
    """``text`` fits a Taiwan plate format and is no all-digit string: every plate with a dash carries
    a letter (none of the 1,987 real plates in the shared data is all digits), and the special plates
    start with a character (試, 使, 外, ...). Phone numbers (``04-2516``), dates (``2024-05``) and
    house numbers (``30-31``) fit the dash formats but have no letter."""
    return is_plate(text) and not text.replace("-", "").isdigit()


def crop_box(image: np.ndarray, points: np.ndarray, margin: tuple[float, float]) -> np.ndarray:
    """The quadrilateral ``points`` (clockwise from the top-left) cut out of ``image`` and made upright,
    grown by ``margin`` ``(left and right, top and bottom)`` times its height on each side (edge
    pixels repeated past the photo's border)."""
    matrix, size = upright_transform(points, margin)
    return cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def upright_transform(points: np.ndarray, margin: tuple[float, float], scale: float = 1.0
                      ) -> tuple[np.ndarray, tuple[int, int]]:
    """The perspective matrix that maps the quadrilateral ``points`` (clockwise from the top-left) upright, grown by
    ``margin`` times its height on each side and enlarged ``scale`` times, and the ``(width, height)`` of its output."""
    points = np.asarray(points, dtype=np.float32)
    width = max(np.linalg.norm(points[1] - points[0]), np.linalg.norm(points[2] - points[3]))
    height = max(np.linalg.norm(points[3] - points[0]), np.linalg.norm(points[2] - points[1]))
    pad_x, pad_y = margin[0] * height, margin[1] * height
    size = (max(1, round(scale * (width + 2 * pad_x))), max(1, round(scale * (height + 2 * pad_y))))
    target = scale * np.array([[pad_x, pad_y], [pad_x + width, pad_y], [pad_x + width, pad_y + height],
                               [pad_x, pad_y + height]], dtype=np.float32)
    return cv2.getPerspectiveTransform(points, target), size


def agreed_plate(readings: Sequence[tuple[PlateResult, TextBox]], is_plate: Callable[[PlateResult, TextBox], bool],
                 min_votes: int) -> tuple[PlateResult, TextBox] | None:
    """Of several readings of one text line (each with the box it was read from), the plate: the plate reading
    (``is_plate``) whose text the readings give most often, the most confident of those; ``None`` where no reading is
    a plate, or where that text is given fewer than ``min_votes`` times."""
    votes = Counter(reading.text for reading, _ in readings)
    plates = [(reading, box) for reading, box in readings if is_plate(reading, box)]
    if not plates:
        return None
    reading, box = max(plates, key=lambda plate: (votes[plate[0].text], plate[0].confidence))
    return (reading, box) if votes[reading.text] >= min_votes else None


def merge_overlapping(plates: list[PlateResult], overlap: float = 0.5) -> list[PlateResult]:
    """One result per plate, most confident first: of results whose boxes overlap by more than ``overlap``
    of the smaller box's area, only the most confident is kept (the detector may box a plate twice)."""
    kept: list[PlateResult] = []
    for plate in sorted(plates, key=lambda p: -p.confidence):
        if plate.box is None or all(_overlap(plate.box, k.box) <= overlap for k in kept if k.box is not None):
            kept.append(plate)
    return kept


def _overlap(a: tuple[tuple[float, float], ...], b: tuple[tuple[float, float], ...]) -> float:
    """Intersection area of two convex quadrilaterals over the smaller one's area."""
    pa, pb = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    smaller = min(cv2.contourArea(pa), cv2.contourArea(pb))
    if smaller <= 0:
        return 0.0
    area, _ = cv2.intersectConvexConvex(pa, pb)
    return float(area) / smaller


def _corners(points: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((float(x), float(y)) for x, y in points)


_default_readers: dict[str, PhotoReader] = {}
_default_lock = threading.Lock()


@overload
def read_photo(photos: list[ImageInput] | tuple[ImageInput, ...], *, backend: str = ...) -> list[list[PlateResult]]: ...
@overload
def read_photo(photos: list[ImageInputs] | tuple[ImageInputs, ...], *, backend: str = ...
               ) -> list[list[PlateResult]]: ...
@overload
def read_photo(photos: ImageInput, *, backend: str = ...) -> list[PlateResult]: ...


def read_photo(photos: ImageInput | list[Any] | tuple[Any, ...], *, backend: str = "auto"
               ) -> list[PlateResult] | list[list[PlateResult]]:
    """Find and read the plates in a photo (or each photo of a list) with a shared :class:`PhotoReader`,
    loaded on first use; see :meth:`PhotoReader.run`.

    >>> from twplate import read_photo
    >>> [(p.text, p.box) for p in read_photo("street.jpg")]      # doctest: +SKIP
    [('ABC-1234', ((412.0, 655.0), (598.0, 650.0), (599.0, 702.0), (413.0, 707.0)))]
    """
    with _default_lock:
        if backend not in _default_readers:
            _default_readers[backend] = PhotoReader(backend=backend)
        reader = _default_readers[backend]
    return reader.run(photos)
