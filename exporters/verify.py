"""The check every conversion runs: same probabilities and same text as the model it came from."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from twplate.decode import ctc_greedy_decode
from twplate.preprocess import PreprocessConfig, make_batch, resize_to_input

ATOL = 1e-4
PROBE_PLATES = ("ABC-1234", "123-ABC", "8861-TW", "MKT-0391", "EAA-2207", "AB-1234")


class ExportMismatch(RuntimeError):
    """An exported model does not reproduce its source."""


def probe_batches(preprocess: PreprocessConfig) -> list[np.ndarray]:
    """Rendered plates at three aspect ratios, batches of 6, 1 and 3, so dynamic width and batch are both exercised."""
    batches = []
    for aspect in (2.0, 3.6, 7.0):
        images = []
        for text in PROBE_PLATES:
            h = 96
            img = np.full((h, int(h * aspect), 3), 255, np.uint8)
            scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, 50, 4)
            cv2.putText(img, text, (8, 72), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4, cv2.LINE_AA)
            images.append(resize_to_input(img, preprocess))
        batches.append(make_batch(images, preprocess))
    return [*batches, batches[1][:1], batches[0][:3]]


def assert_reproduces(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
                      characters: Sequence[str], preprocess: PreprocessConfig, what: str, atol: float = ATOL) -> float:
    """Raise :class:`ExportMismatch` unless ``candidate`` matches ``reference``; returns the max difference.

    ``atol`` bounds the probability difference; conversions that change precision (fp16) pass a
    looser one, and the decoded text must be identical in every case.
    """
    worst = 0.0
    for batch in probe_batches(preprocess):
        ref, got = reference(batch), candidate(batch)
        if ref.shape != got.shape:
            raise ExportMismatch(f"{what}: output shape {got.shape}, source gives {ref.shape} for input {batch.shape}")
        diff = float(np.abs(ref - got).max())
        worst = max(worst, diff)
        ref_text = [d.text for d in ctc_greedy_decode(ref, characters)]
        got_text = [d.text for d in ctc_greedy_decode(got, characters)]
        if diff > atol or ref_text != got_text:
            raise ExportMismatch(f"{what}: max probability difference {diff:.2e} (limit {atol:.0e}) for input "
                                 f"{batch.shape}; text {got_text} vs source {ref_text}")
    return worst
