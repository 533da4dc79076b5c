"""Image to tensor: the one resize and normalisation that both inference and training use.

Accuracy measured through a different resize than inference lies, so training imports these
functions rather than keeping its own copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PreprocessConfig:
    """How a model wants its input; stored with the model (``inference.yml``, ONNX metadata).

    Images are resized to ``height``, width by aspect ratio, clamped to ``[min_width, max_width]``.
    The floor exists for CTC: a plate of 8 characters with repeats needs about 14 steps. The
    defaults are the shipped model's: one CTC step per 4 pixels, read by aspect with a floor of 80
    (20 steps); PP-OCRv3's one step per 8 pixels needs a floor near 150. ``min_width == max_width``
    reads every image at one width, whatever its aspect, so no batch is padded
    (``PlateRecognizer(input_width=...)``; ``benchmarks/width_policy.py`` compares the policies).
    Channels are BGR, as PaddleOCR trained the Student.
    """

    height: int = 48
    min_width: int = 80
    max_width: int = 320
    mean: float = 0.5
    std: float = 0.5

    def target_width(self, h: int, w: int) -> int:
        """Input width for an ``h`` x ``w`` image."""
        return int(min(self.max_width, max(self.min_width, math.ceil(self.height * w / h))))

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        return cls(**{k: d[k] for k in ("height", "min_width", "max_width", "mean", "std") if k in d})

    def to_dict(self) -> dict:
        return {"height": self.height, "min_width": self.min_width, "max_width": self.max_width,
                "mean": self.mean, "std": self.std}


def resize_to_input(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR -> ``(height, target_width, 3)`` uint8: the image at the model's input size.

    Images stay uint8 until :func:`make_batch` normalises a whole batch in one pass, which costs less
    per image than normalising each on its own and holds a quarter of float32's memory meanwhile.
    """
    h, w = image.shape[:2]
    return cv2.resize(image, (cfg.target_width(h, w), cfg.height), interpolation=cv2.INTER_LINEAR)


def make_batch(crops: Sequence[np.ndarray], cfg: PreprocessConfig, width: int | None = None) -> np.ndarray:
    """``(height, W_i, 3)`` uint8 crops (:func:`resize_to_input`) -> ``(N, 3, height, width)`` float32,
    normalised by ``cfg``'s mean and std, each zero-padded on the right (0 is mid grey after normalisation).

    ``width`` defaults to ``max W_i``; a larger one pads further (width buckets, fixed-width input).
    """
    widest = max(c.shape[1] for c in crops)
    if width is None:
        width = widest
    elif width < widest:
        raise ValueError(f"width {width} is narrower than the widest crop ({widest})")
    batch = np.zeros((len(crops), 3, crops[0].shape[0], width), dtype=np.float32)
    for row, crop in zip(batch, crops, strict=True):
        row[:, :, : crop.shape[1]] = crop.transpose(2, 0, 1)
    batch *= 1.0 / (255.0 * cfg.std)
    batch -= cfg.mean / cfg.std
    for row, crop in zip(batch, crops, strict=True):
        if crop.shape[1] < width:
            row[:, :, crop.shape[1] :] = 0.0
    return batch


def resize_normalize(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR -> ``(3, height, target_width)`` float32: one image's model input."""
    return make_batch([resize_to_input(image, cfg)], cfg)[0]


def width_groups(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size`` that share one width, narrowest first.

    A batch never mixes widths, so no image is padded for another's sake: an image's input is a
    function of the image alone and it reads the same alone or in any batch (the SVTR neck attends
    over the whole width, padding included).
    """
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and widths[groups[-1][0]] == widths[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def bucket_width(width: int, buckets: Sequence[int] | None) -> int:
    """The smallest of ``buckets`` that holds ``width``; ``width`` itself if it exceeds them all or there are none.

    On a GPU every new input shape costs a kernel search (cuDNN) or an optimisation profile
    (TensorRT); padding batches up to a few fixed widths keeps the number of shapes small.
    """
    return min((b for b in buckets or () if b >= width), default=width)


def gpu_width_buckets(cfg: PreprocessConfig, count: int = 4, multiple: int = 16) -> tuple[int, ...]:
    """``count`` widths spaced geometrically over ``[min_width, max_width]``, each rounded up to ``multiple``.

    Geometric, because plates crowd the narrow end (at their natural width most are within 1.5x of
    the floor): a floor of 80 gets ``(80, 128, 208, 320)``, four shapes per batch size to tune on a
    GPU (one TensorRT optimisation profile each), and a typical plate is padded by under 40%.
    """
    if count < 2 or cfg.max_width <= cfg.min_width:
        return (cfg.max_width,)
    ratio = cfg.max_width / cfg.min_width
    points = (cfg.min_width * ratio ** (i / (count - 1)) for i in range(count))
    # 1e-9: a point that is a multiple up to float error (80 * 4 ** 1.0) must not round to the next one
    return tuple(sorted({min(cfg.max_width, -(-math.ceil(p - 1e-9) // multiple) * multiple) for p in points}))
