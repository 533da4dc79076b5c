"""Drawing primitives for flat plates: scheme colours, shapes, glyph layout and alpha painting.

Everything draws in place on uint8 images or masks with OpenCV; colours are BGR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import cv2
import numpy as np

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1

# ---------------------------------------------------------------- scheme colours (BGR)
WHITE: Colour = (250, 250, 250)
BLACK: Colour = (22, 22, 22)
GREEN: Colour = (40, 125, 18)
RED: Colour = (30, 20, 225)
YELLOW: Colour = (50, 235, 250)
BLUE_TEXT: Colour = (150, 60, 25)
BLUE_PANEL: Colour = (215, 145, 60)
EV_GREEN: Colour = (55, 140, 25)

T = TypeVar("T")


def pick(rng: np.random.Generator, items: Sequence[T], weights: Sequence[float] | None = None) -> T:
    """One of ``items``, uniformly or with ``weights`` (normalised here)."""
    if weights is None:
        return items[int(rng.integers(len(items)))]
    w = np.asarray(weights, float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def aged(rng: np.random.Generator, colour: Sequence[float]) -> Colour:
    """Faded / dirty version of a scheme colour (half the time the colour as it is)."""
    c = np.asarray(colour, float)
    if rng.random() < 0.5:
        tint = np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.025) * np.array([-1.0, 0.0, 1.0])
        c = c * rng.uniform(0.82, 1.0) * tint + rng.normal(0, 2.5, 3)
    b, g, r = (int(v) for v in np.clip(c, 0, 255))
    return b, g, r


def rounded_mask(w: int, h: int, r: float, inset: int = 0) -> np.ndarray:
    """A ``h x w`` uint8 mask of a rectangle with corners rounded by ``r``, ``inset`` px inside the edges."""
    m = np.zeros((h, w), np.uint8)
    r = max(1, int(r))
    x0, y0, x1, y1 = inset, inset, w - 1 - inset, h - 1 - inset
    cv2.rectangle(m, (x0 + r, y0), (x1 - r, y1), 255, -1)
    cv2.rectangle(m, (x0, y0 + r), (x1, y1 - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(m, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return m


def paint(img: np.ndarray, alpha: np.ndarray, colour: Sequence[float], x: int = 0, y: int = 0) -> None:
    """Alpha-blend a solid colour through ``alpha`` (uint8 or float 0-1) at (x, y), clipped to ``img``."""
    h, w = alpha.shape[:2]
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y: y1 - y, x0 - x: x1 - x]
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a
    roi = img[y0:y1, x0:x1].astype(np.float32)
    roi += (np.asarray(colour, np.float32) - roi) * a[..., None]
    img[y0:y1, x0:x1] = roi.astype(np.uint8)


def fit_glyph(mask: np.ndarray, bw: int, bh: int, keep_aspect: bool = False, stretch: float = 1.0) -> np.ndarray:
    """Resize a glyph mask into a bw x bh box (full height; narrow glyphs keep their width)."""
    mh, mw = mask.shape
    scale = bh / mh
    if keep_aspect:
        scale = min(bh / mh, bw / mw)
        h = max(1, int(round(mh * scale)))
        w = max(1, int(round(mw * scale)))
    else:
        h = bh
        w = max(1, min(bw, int(round(mw * scale * stretch))))
        if mw / mh > 0.38:           # ordinary glyphs fill the box width
            w = max(w, int(bw * 0.9))
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def text_layer(shape: tuple[int, int], glyphs: Sequence[np.ndarray], boxes: Sequence[Box],
               keep_aspect: bool = False, stretch: float = 1.0, valign: str = "c") -> np.ndarray:
    """A uint8 mask of ``shape`` with each glyph fitted into its box (centred, or top-aligned: ``valign="t"``)."""
    layer = np.zeros(shape, np.uint8)
    for m, (x0, y0, x1, y1) in zip(glyphs, boxes):
        g = fit_glyph(m, int(x1 - x0), int(y1 - y0), keep_aspect, stretch)
        gx = int(round((x0 + x1 - g.shape[1]) / 2))
        gy = int(round((y0 + y1 - g.shape[0]) / 2)) if valign == "c" else int(y0)
        sub = layer[gy: gy + g.shape[0], gx: gx + g.shape[1]]
        np.maximum(sub, g[: sub.shape[0], : sub.shape[1]], out=sub)
    return layer


def row_boxes(x0: float, x1: float, y0: float, y1: float, groups: Sequence[int], sep_w: float,
              gap: float) -> tuple[list[Box], list[tuple[float, float]]]:
    """Boxes for character groups (e.g. [3, 4]) laid out in [x0, x1], and the separators' (x0, x1) between."""
    n = sum(groups)
    cw = (x1 - x0 - sep_w * (len(groups) - 1) - gap * (n - len(groups))) / n
    boxes: list[tuple[float, float, float, float]] = []
    seps: list[tuple[float, float]] = []
    x = x0
    for gi, g in enumerate(groups):
        for i in range(g):
            boxes.append((x, y0, x + cw, y1))
            x += cw + (gap if i < g - 1 else 0)
        if gi < len(groups) - 1:
            seps.append((x, x + sep_w))
            x += sep_w
    rounded: list[Box] = [(int(round(a)), int(round(b)), int(round(c)), int(round(d))) for a, b, c, d in boxes]
    return rounded, seps


def slot(img: np.ndarray, cx: float, cy: float, w: float, h: float, colour: Sequence[float]) -> None:
    """A mounting slot: a ``w x h`` stadium centred at (cx, cy)."""
    cv2.ellipse(img, (int(cx), int(cy)), (int(w / 2), int(h / 2)), 0, 0, 360, colour, -1, cv2.LINE_AA)
    r = h / 2
    cv2.rectangle(img, (int(cx - w / 2 + r), int(cy - h / 2)), (int(cx + w / 2 - r), int(cy + h / 2)),
                  colour, -1)


def emblem(img: np.ndarray, cx: float, cy: float, r: float, colour: Sequence[float]) -> None:
    """The 2014 plates' plum blossom: five petals round a white centre."""
    for k in range(5):
        a = -np.pi / 2 + k * 2 * np.pi / 5
        cv2.circle(img, (int(cx + r * 0.55 * np.cos(a)), int(cy + r * 0.55 * np.sin(a))),
                   max(1, int(r * 0.5)), colour, -1, cv2.LINE_AA)
    cv2.circle(img, (int(cx), int(cy)), max(1, int(r * 0.3)), (255, 255, 255), -1, cv2.LINE_AA)


def wheelchair_symbol(img: np.ndarray, cx: float, cy: float, s: float, colour: Sequence[float]) -> None:
    """The disabled-driver symbol, ``s`` px tall, centred at (cx, cy)."""
    cv2.circle(img, (int(cx), int(cy + s * 0.25)), int(s * 0.4), colour, max(1, int(s * 0.12)), cv2.LINE_AA)
    cv2.circle(img, (int(cx - s * 0.05), int(cy - s * 0.55)), max(1, int(s * 0.13)), colour, -1, cv2.LINE_AA)
    cv2.line(img, (int(cx - s * 0.05), int(cy - s * 0.35)), (int(cx), int(cy + s * 0.1)), colour,
             max(1, int(s * 0.14)))
    cv2.line(img, (int(cx), int(cy + s * 0.1)), (int(cx + s * 0.45), int(cy + s * 0.15)), colour,
             max(1, int(s * 0.12)))


def separator(img: np.ndarray, x0: float, x1: float, yc: float, h: float, colour: float | Sequence[float],
              style: str) -> None:
    """The mark between character groups in [x0, x1]: a square ``"dot"`` or a ``"dash"``."""
    cx = (x0 + x1) / 2
    if style == "dot":
        s = max(3, (x1 - x0) * 0.55)
        cv2.rectangle(img, (int(cx - s / 2), int(yc - s / 2)), (int(cx + s / 2), int(yc + s / 2)), colour, -1)
    else:
        w = max(4, (x1 - x0) * 0.8)
        t = max(3, h * 0.09)
        cv2.rectangle(img, (int(cx - w / 2), int(yc - t / 2)), (int(cx + w / 2), int(yc + t / 2)), colour, -1)
