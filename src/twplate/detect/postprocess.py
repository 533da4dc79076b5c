"""DB post-processing: a detector's probability map to text boxes in photo coordinates.

As PaddleOCR's ``DBPostProcess`` (box type ``quad``, score mode ``fast``) does it:

1. binarise the map at ``threshold`` (and dilate it by a 2 x 2 kernel, so letters that the map
   separates by one pixel join into one line);
2. take each connected region's outer contour and its minimum-area rectangle; drop rectangles with
   a short side under ``min_size`` map pixels;
3. score a rectangle by the mean probability inside it; drop it under ``box_threshold``;
4. *unclip*: DB's map marks a shrunk text core, so grow the rectangle back by
   ``distance = area * unclip_ratio / perimeter`` on every side;
5. scale to the photo and order the corners as the line reads: clockwise from its top-left, so that
   the first edge is a long side running left to right, whatever the line's tilt.

Unclipping a rectangle with pyclipper's round offset and taking the minimum-area rectangle of the
result (what PaddleOCR does) gives exactly the rectangle widened by ``distance`` on each side, so
that is computed directly (``tests/test_detect.py`` checks it against pyclipper).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DBSettings:
    """DB post-processing settings (defaults: PaddleOCR's recipe with RapidOCR's values, for both PP-OCR detectors)."""

    threshold: float = 0.3
    box_threshold: float = 0.5
    unclip_ratio: float = 1.6
    max_candidates: int = 1000
    min_size: float = 3.0
    dilate: bool = True


@dataclass(frozen=True)
class TextBox:
    """A detected text line: ``points`` ``(4, 2)`` float32 ``(x, y)`` in photo pixels, clockwise from the
    line's top-left as it reads (:func:`order_for_reading`); ``score``: mean text probability inside the
    box, in ``[0, 1]``."""

    points: np.ndarray
    score: float

    @property
    def size(self) -> tuple[float, float]:
        """``(width, height)``: lengths of the top and left edges (the line's length and its height)."""
        p = self.points
        return float(np.linalg.norm(p[1] - p[0])), float(np.linalg.norm(p[3] - p[0]))


def boxes_from_map(prob: np.ndarray, photo_size: tuple[int, int], settings: DBSettings = DBSettings()) -> list[TextBox]:
    """Text boxes from an ``(h, w)`` probability map of a photo of ``photo_size`` ``(height, width)``,
    highest score first."""
    mask: np.ndarray = (prob > settings.threshold).astype(np.uint8)
    if settings.dilate:
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    scale = np.array([photo_size[1] / prob.shape[1], photo_size[0] / prob.shape[0]], dtype=np.float32)
    limit = np.array([photo_size[1], photo_size[0]], dtype=np.float32)
    boxes = []
    for contour in contours[: settings.max_candidates]:
        rect = cv2.minAreaRect(contour)
        if min(rect[1]) < settings.min_size:
            continue
        score = box_score(prob, cv2.boxPoints(rect))
        if score < settings.box_threshold:
            continue
        grown = unclip(rect, settings.unclip_ratio)
        if min(grown[1]) < settings.min_size + 2:
            continue
        points = np.clip(cv2.boxPoints(grown) * scale, 0, limit)
        boxes.append(TextBox(order_for_reading(points), score))
    return sorted(boxes, key=lambda b: -b.score)


def box_score(prob: np.ndarray, points: np.ndarray) -> float:
    """Mean of ``prob`` over the quadrilateral ``points`` (``(4, 2)`` map coordinates)."""
    h, w = prob.shape
    x0, y0 = np.clip(np.floor(points.min(axis=0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(points.max(axis=0)).astype(int), 0, [w - 1, h - 1])
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    cv2.fillPoly(mask, [np.round(points - [x0, y0]).astype(np.int32)], 1)
    return float(cv2.mean(prob[y0 : y1 + 1, x0 : x1 + 1], mask)[0])


def unclip(rect: tuple, ratio: float) -> tuple:
    """Grow an OpenCV rotated rectangle ``((cx, cy), (w, h), angle)`` by ``area * ratio / perimeter`` on every side."""
    center, (w, h), angle = rect
    distance = w * h * ratio / (2 * (w + h)) if w + h > 0 else 0.0
    return center, (w + 2 * distance, h + 2 * distance), angle


def order_for_reading(points: np.ndarray) -> np.ndarray:
    """The 4 corners of a text line's convex quadrilateral, clockwise on screen (y down), starting at the
    line's top-left as it reads: the first edge is the longer of a pair of opposite sides, taken in the
    direction that runs left to right.

    A plate hanging from one screw can be turned 60 degrees or more in the photo: its box is then taller
    than wide on screen, and the corner with the smallest ``x + y`` is not the line's top-left. Ordered
    this way, any line turned less than 90 degrees either way has its length as the box's width and is
    cut out upright. (A line turned more than that reads upside down; a vertical line cannot be told
    from one turned the other way.)"""
    points = np.asarray(points, dtype=np.float32)
    center = points.mean(axis=0)
    clockwise = points[np.argsort(np.arctan2(points[:, 1] - center[1], points[:, 0] - center[0]))]
    edges = np.roll(clockwise, -1, axis=0) - clockwise  # edge i runs from corner i to corner i + 1
    lengths = np.linalg.norm(edges[0:2], axis=1) + np.linalg.norm(edges[2:4], axis=1)
    long = int(np.argmax(lengths))  # 0: edges 0 and 2 are the long pair, 1: edges 1 and 3
    first = long if edges[long][0] > edges[long + 2][0] else long + 2  # of the pair, the one running rightwards
    return np.roll(clockwise, -first, axis=0)
