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
    The floor exists for CTC: the Student emits one step per 8 pixels of width, and a plate of
    8 characters with repeats needs about 14 steps; a 1.7:1 scooter plate at height 48 would
    otherwise get only 10. Channels are BGR, as PaddleOCR trained the Student.
    """

    height: int = 48
    min_width: int = 160
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


def resize_normalize(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``(H, W, 3)`` uint8 BGR -> ``(3, height, target_width)`` float32, normalised."""
    h, w = image.shape[:2]
    resized = cv2.resize(image, (cfg.target_width(h, w), cfg.height), interpolation=cv2.INTER_LINEAR)
    x = resized.astype(np.float32)
    x *= 1.0 / (255.0 * cfg.std)
    x -= cfg.mean / cfg.std
    return x.transpose(2, 0, 1)


def make_batch(tensors: Sequence[np.ndarray]) -> np.ndarray:
    """Stack ``(3, H, W_i)`` tensors into ``(N, 3, H, max W_i)``, zero-padded on the right."""
    width = max(t.shape[2] for t in tensors)
    batch = np.zeros((len(tensors), 3, tensors[0].shape[1], width), dtype=np.float32)
    for i, t in enumerate(tensors):
        batch[i, :, :, : t.shape[2]] = t
    return batch


def width_groups(widths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar width, so little compute goes to padding."""
    order = sorted(range(len(widths)), key=lambda i: widths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
