"""Made-up photos for tests: a rendered sample plate (``samples/``, the project's own renders) pasted into
a textured scene with perspective."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SAMPLES = Path(__file__).resolve().parents[1] / "samples"

PLATE_CORNERS = [(300, 300), (560, 320), (555, 440), (295, 415)]
"""Where :func:`paste_plate` puts a plate by default: tilted and in perspective, in a 960 x 720 scene."""


def paste_plate(sample: str, corners: list[tuple[float, float]], size=(720, 960), seed=0) -> np.ndarray:
    """A ``size`` photo of a textured grey scene with ``samples/<sample>`` warped onto ``corners``."""
    rng = np.random.default_rng(seed)
    h, w = size
    scene = np.clip(rng.normal(110, 12, (h, w, 3)) + np.linspace(0, 60, w)[None, :, None], 0, 255).astype(np.uint8)
    scene = cv2.GaussianBlur(scene, (5, 5), 0)
    plate = cv2.imread(str(SAMPLES / sample))
    ph, pw = plate.shape[:2]
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]), np.float32(corners))
    warped = cv2.warpPerspective(plate, matrix, (w, h))
    mask = cv2.warpPerspective(np.full((ph, pw), 255, np.uint8), matrix, (w, h))
    scene[mask > 0] = warped[mask > 0]
    return scene


def steep_crop(sample: str, angle: float) -> np.ndarray:
    """``samples/<sample>`` hanging ``angle`` degrees in a photo, cut out by its axis-aligned bounding box (as a
    plate detector that gives upright boxes would cut it)."""
    turn = np.radians(angle)
    rotation = np.float32([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    corners = np.float32([480, 360]) + np.float32([(-130, -60), (130, -60), (130, 60), (-130, 60)]) @ rotation.T
    (x0, y0), (x1, y1) = corners.min(0).astype(int) - 4, corners.max(0).astype(int) + 4
    return paste_plate(sample, [tuple(map(float, c)) for c in corners])[y0:y1, x0:x1]
