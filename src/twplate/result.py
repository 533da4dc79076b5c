"""The value :func:`twplate.recognize` returns for each image, and :func:`twplate.read_photo` for each plate."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TwplateError


@dataclass(frozen=True)
class PlateResult:
    """What was read from one image.

    Attributes:
        text: the plate number, e.g. ``"ABC-1234"``; empty when nothing was read or ``error`` is set.
        confidence: how likely the whole plate is read exactly right, in ``[0, 1]``: the product of the
            character confidences, mapped through the model's calibration (``confidence`` in its
            ``inference.yml``, fitted on real plates: :mod:`twplate.confidence`); 0.0 for empty text.
            For the shipped model, below ``spec.calibration.review_below`` a person should check the
            reading (docs/accuracy.md gives the share of plates that flags and the errors it catches).
        char_confidences: the probability of each character of ``text``, in order.
        error: why this image could not be read, or ``None``. A bad image in a batch gets a result
            with ``error`` set instead of raising, so the other images still get their results.
        source: the path the image came from, when it came from a path.
        box: for a plate found in a photo: its 4 corners ``(x, y)`` in the photo's pixels, clockwise
            from the plate's own top-left (its number line as it reads, however the plate is turned);
            ``None`` for a crop.
        detection_score: for a plate found in a photo: the detector's text probability inside
            ``box``, in ``[0, 1]``; ``None`` for a crop.
        format_edits: how many characters the plate formats changed inside the model's own (greedy)
            reading to make ``text``: 0 when it fitted a format as read, or once a missing dash was added or
            stray characters at its ends (``MRCY-0838T`` -> ``RCY-0838``) were dropped; a dash read where the
            plate has none counts. On real plate crops a fitted reading changes one character at most; text
            that is no plate, forced into a format, changes more (docs/photos.md).
    """

    text: str
    confidence: float
    char_confidences: tuple[float, ...] = ()
    error: TwplateError | None = None
    source: str | None = None
    box: tuple[tuple[float, float], ...] | None = None
    detection_score: float | None = None
    format_edits: int = 0

    @property
    def ok(self) -> bool:
        """True when the image was read without error (the text may still be empty)."""
        return self.error is None

    def __repr__(self) -> str:
        where = f", source={self.source!r}" if self.source is not None else ""
        if self.error is not None:
            return f"PlateResult(error={type(self.error).__name__}({str(self.error)!r}){where})"
        chars = ", ".join(f"{c}:{p:.2f}" for c, p in zip(self.text, self.char_confidences, strict=False))
        if self.format_edits:
            where = f", format_edits={self.format_edits}{where}"
        if self.box is not None:
            corners = ", ".join(f"({x:.0f}, {y:.0f})" for x, y in self.box)
            score = "" if self.detection_score is None else f", detection_score={self.detection_score:.2f}"
            where = f", box=[{corners}]{score}{where}"
        return f"PlateResult(text={self.text!r}, confidence={self.confidence:.4f}, chars=[{chars}]{where})"
