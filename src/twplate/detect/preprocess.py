"""Photo to detector input: resize so the longest side is at most ``limit_side`` (and, where the caller asks, at
least ``min_long_side``; each side a multiple of 32, as DBNet's four stride-2 stages and its upsampling need),
then normalise per channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

STRIDE = 32
"""DBNet's input sides must be multiples of this."""

PPOCR_MEAN = (0.485, 0.456, 0.406)
PPOCR_STD = (0.229, 0.224, 0.225)
"""The normalisation PP-OCR's detectors were trained with (PaddleOCR's ``NormalizeImage``, applied to BGR pixels in
this order, as PaddleOCR and RapidOCR 1.2 do): the default where a detector's ``inference.yml`` gives none."""


@dataclass(frozen=True)
class DetectPreprocessConfig:
    """How a detector wants its input; stored with the model (``inference.yml``, ``input`` section).

    ``limit_side``: the photo is shrunk until its longest side is at most this (never enlarged past it: sides
    are rounded to the nearest multiple of 32, but not above the limit);
    a larger limit finds smaller plates and costs time in proportion to the pixels
    (``benchmarks/photos.py`` measures the trade). ``mean`` and ``std`` apply per BGR channel to
    pixels scaled to ``[0, 1]``.
    """

    limit_side: int = 1600
    mean: tuple[float, float, float] = PPOCR_MEAN
    std: tuple[float, float, float] = PPOCR_STD

    @classmethod
    def from_dict(cls, d: dict) -> DetectPreprocessConfig:
        values: dict[str, Any] = {k: tuple(map(float, d[k])) if k in ("mean", "std") else int(d[k])
                                  for k in ("limit_side", "mean", "std") if k in d}
        cfg = cls(**values)
        if cfg.limit_side < STRIDE or len(cfg.mean) != 3 or len(cfg.std) != 3 or 0 in cfg.std:
            raise ValueError(f"invalid detector input spec {cfg}")
        return cfg

    def to_dict(self) -> dict:
        return {"limit_side": self.limit_side, "mean": list(self.mean), "std": list(self.std)}

    def input_size(self, h: int, w: int, min_long_side: int = 0) -> tuple[int, int]:
        """``(height, width)`` of the detector input for an ``h`` x ``w`` photo; one whose longest side is shorter
        than ``min_long_side`` is enlarged until it is that long (within ``limit_side``)."""
        longest, floor = max(h, w), min(min_long_side, self.limit_side)
        scale = floor / longest if longest < floor else min(1.0, self.limit_side / longest)
        top = max(STRIDE, self.limit_side // STRIDE * STRIDE)

        def side(n: int) -> int:
            return min(top, max(STRIDE, round(n * scale / STRIDE) * STRIDE))

        return side(h), side(w)


def detector_input(image: np.ndarray, cfg: DetectPreprocessConfig, min_long_side: int = 0) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR -> ``(3, h, w)`` float32 (size from :meth:`DetectPreprocessConfig.input_size`)."""
    height, width = cfg.input_size(image.shape[0], image.shape[1], min_long_side)
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    x = resized.astype(np.float32)
    x *= np.float32(1.0 / 255.0) / np.asarray(cfg.std, dtype=np.float32)
    x -= np.divide(cfg.mean, cfg.std, dtype=np.float32)
    return x.transpose(2, 0, 1)
