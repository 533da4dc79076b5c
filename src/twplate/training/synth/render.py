"""The renderer: flat (un-augmented) plates of each layout, drawn from glyph masks.

Every plate is drawn procedurally in its own pixel space (about 1 px per mm,
boxes measured from the glyph folder's templates): a rounded plate in the
scheme's background colour, mounting slots, 2014 plum-blossom emblems,
電動車 / region banners, then the characters.  Which label and colours a plate
gets is :mod:`.kinds`' business; the primitives are in :mod:`.draw`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .draw import (
    BLACK,
    BLUE_PANEL,
    BLUE_TEXT,
    EV_GREEN,
    RED,
    WHITE,
    YELLOW,
    Box,
    Colour,
    aged,
    emblem,
    paint,
    pick,
    rounded_mask,
    row_boxes,
    separator,
    slot,
    text_layer,
    wheelchair_symbol,
)
from .fonts import CJKFonts, GlyphSource

REGION_WEIGHTS = {"taiwansheng": 0.45, "taibeishi": 0.30, "gaoxiongshi": 0.17, "jinmenxian": 0.04,
                  "lianjiangxian": 0.04}


@dataclass
class Plate:
    """A flat plate: BGR image, alpha mask, and where bolts and stickers may go."""

    img: np.ndarray
    mask: np.ndarray
    bolts: list[tuple[int, int, int]]  # (x, y, r) mounting-hole centres
    top_band: tuple[int, int]          # (y0, y1) free strip above the characters
    char_area: Box                     # x0, y0, x1, y1


class Renderer:
    """Draws each plate layout from the glyph folder's Latin masks and the CJK fonts."""

    def __init__(self, glyphs: GlyphSource, cjk: CJKFonts) -> None:
        self.g = glyphs
        self.cjk = cjk
        self.ev_fonts = cjk.fonts_for("電動車")

    # ------------------------------------------------------------ helpers
    def _latin(self, text: str, style: str) -> list[np.ndarray]:
        return [self.g.mask(style, c) for c in text]

    def _cjk(self, rng: np.random.Generator, ch: str) -> np.ndarray:
        ks = self.cjk.fonts_for(ch)
        return self.cjk.mask(ks[int(rng.integers(len(ks)))], ch)

    def _base(self, rng: np.random.Generator, w: int, h: int, bg: Colour, radius: int,
              border: Colour | None = None) -> tuple[np.ndarray, np.ndarray]:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = aged(rng, bg)
        mask = rounded_mask(w, h, radius)
        if border is not None and rng.random() < 0.7:
            b = rounded_mask(w, h, radius, inset=int(rng.integers(1, 4)))
            edge = cv2.subtract(mask, b)
            cv2.rectangle(edge, (0, 0), (w - 1, h - 1), 0, 1)
            paint(img, cv2.GaussianBlur(edge, (3, 3), 0), border)
        return img, mask

    def _ev_banner(self, rng: np.random.Generator, img: np.ndarray, y0: int, y1: int, text_col: Colour = WHITE) -> None:
        w = img.shape[1]
        img[y0:y1] = aged(rng, EV_GREEN)
        ks = self.ev_fonts
        k = ks[int(rng.integers(len(ks)))]
        hh = int((y1 - y0) * 0.72)
        cw = hh
        x = w // 2 - int(cw * 1.9)
        for i, ch in enumerate("電動車"):
            m = self.cjk.mask(k, ch)
            g = cv2.resize(m, (cw, hh), interpolation=cv2.INTER_AREA)
            paint(img, g, text_col, x + i * int(cw * 1.4), y0 + (y1 - y0 - hh) // 2)

    def _region(self, rng: np.random.Generator, img: np.ndarray, x0: float, y0: float, x1: float, y1: float,
                colour: Colour) -> None:
        if not self.g.regions:
            return
        names = [n for n in REGION_WEIGHTS if n in self.g.regions] or sorted(self.g.regions)
        name = pick(rng, names, [REGION_WEIGHTS.get(n, 0.05) for n in names])
        m = self.g.regions[name]
        g = cv2.resize(m, (int(x1 - x0), int(y1 - y0)), interpolation=cv2.INTER_AREA)
        paint(img, g, colour, int(x0), int(y0))

    @staticmethod
    def _weight(rng: np.random.Generator, layer: np.ndarray) -> np.ndarray:
        """Vary the stroke weight (thinner paint on scooter plates, bolder on others)."""
        r = rng.random()
        if r < 0.25:
            return cv2.erode(layer, np.ones((3, 3), np.uint8))
        if r < 0.35:
            return cv2.dilate(layer, np.ones((2, 2), np.uint8))
        return layer

    def _emboss(self, rng: np.random.Generator, img: np.ndarray, layer: np.ndarray, bg: Colour) -> None:
        if rng.random() < 0.5:
            d = int(rng.integers(1, 3))
            sh = np.zeros_like(layer)
            sh[d:, d:] = layer[:-d, :-d]
            dark = tuple(int(c * 0.55) for c in bg)
            paint(img, (sh.astype(np.float32) / 255.0) * rng.uniform(0.3, 0.8), dark)

    # ------------------------------------------------------------ 2014
    def plate2014(self, rng: np.random.Generator, label: str, text_col: Colour, bg: Colour, ev: bool = False,
                  wheelchair: bool = False, moto: bool = False) -> Plate:
        """A 2014 car plate (365 x 155), or a scooter plate (260 x 150) with ``moto``."""
        if moto:
            w, h = 260, 150
            y0, y1 = 50, 124
            boxes, seps = row_boxes(12, 248, y0, y1, [3, 4], 15, 2)
            bolts = [(70, 22, 9), (190, 22, 9)]
            top_band = (0, 46)
        else:
            w, h = 365, 155
            y0, y1 = 38, 126
            boxes, seps = row_boxes(9, 357, y0, y1, [3, 4], 16, 2)
            bolts = [(92, 14, 10), (273, 14, 10)]
            top_band = (0, 34)
        img, mask = self._base(rng, w, h, bg, 12, border=(140, 140, 140))
        ev_band = ev and (not moto or rng.random() < 0.6)
        if ev_band:
            bh = int(h * 0.20)
            self._ev_banner(rng, img, 0, bh)
            img[h - int(h * 0.17):] = aged(rng, EV_GREEN)
            top_band = (0, bh)
        # mounting slots
        slot_col = (255, 255, 255) if ev_band else pick(rng, [(25, 25, 25), tuple(int(c * 0.4) for c in bg)])
        for bx, by, _ in bolts:
            slot(img, bx, by - 2 if not ev_band else h * 0.1, 26, 7, slot_col)
        if wheelchair:
            wheelchair_symbol(img, w * 0.79 if ev_band else w * 0.5, h * 0.1, h * 0.12,
                              (255, 255, 255) if ev_band else (200, 40, 20))
        # emblems
        if rng.random() < 0.9:
            for i, ex in enumerate((0.26, 0.5, 0.74)):
                col = (235, 235, 235) if i == 1 else (230, 170, 90)
                emblem(img, w * ex, h - h * 0.085, h * 0.045, col)
        style = "2014" if rng.random() < 0.6 else "2012"
        layer = text_layer((h, w), self._latin(label.replace("-", ""), style), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        for sx0, sx1 in seps:
            separator(layer, sx0, sx1, (y0 + y1) / 2, y1 - y0, 255, "dot")
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        paint(img, layer, aged(rng, text_col))
        return Plate(img, mask, bolts, top_band, (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ 1992 cars
    LAYOUT_1992 = {
        (2, 4): ([(3, 51), (51, 99), (113, 161), (161, 209), (209, 257), (257, 305)], (99, 113), "dot"),
        (4, 2): ([(3, 51), (51, 99), (99, 147), (147, 195), (209, 257), (257, 305)], (195, 209), "dot"),
        (2, 3): ([(10, 57), (64, 112), (140, 188), (194, 244), (249, 299)], (112, 140), "dash"),
        (3, 2): ([(10, 57), (64, 112), (119, 167), (195, 243), (250, 298)], (167, 195), "dash"),
        (2, 2): ([(17, 66), (86, 135), (173, 222), (242, 291)], (135, 173), "dash"),
    }

    def plate1992(self, rng: np.random.Generator, label: str, text_col: Colour, bg: Colour, banner: str = "region",
                  wheelchair: bool = False) -> Plate:
        """A 1992 car plate; ``banner`` is ``"region"``, ``"ev"`` or ``"none"``."""
        first, second = label.split("-")
        xs, sep, sep_style = self.LAYOUT_1992[len(first), len(second)]
        w, h = 308, 145
        y0, y1 = 33, 124
        img, mask = self._base(rng, w, h, bg, 10, border=(120, 120, 120))
        bolts = [(67, 10, 9), (241, 10, 9)]
        if banner == "ev":
            self._ev_banner(rng, img, 0, 30)
            img[h - 16:] = aged(rng, EV_GREEN)
            y0, y1 = 32, 123
        elif banner == "region":
            self._region(rng, img, 93, 1, 215, 33, aged(rng, text_col))
        hole = (25, 25, 25) if bg == WHITE else tuple(int(c * 0.35) for c in bg)
        for bx, by, _ in bolts:
            slot(img, bx, by, 28, 8, (255, 255, 255) if banner == "ev" else hole)
            if rng.random() < 0.8:
                slot(img, bx, h - 10, 28, 8, hole)
        if wheelchair:
            wheelchair_symbol(img, w / 2, 16, 16, (200, 40, 20))
        boxes = [(a, y0, b, y1) for a, b in xs]
        layer = text_layer((h, w), self._latin(label.replace("-", ""), "1992"), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        separator(layer, sep[0], sep[1], (y0 + y1) / 2, y1 - y0, 255, sep_style)
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        paint(img, layer, aged(rng, text_col))
        return Plate(img, mask, bolts, (0, 30), (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ old scooters (3+3)
    def scooter_old(self, rng: np.random.Generator, label: str, text_col: Colour, bg: Colour,
                    banner: bool = True) -> Plate:
        """A pre-2014 scooter plate, 3+3 characters, with or without a region banner."""
        w, h = 300, 190
        y0, y1 = (72, 178) if banner else (int(rng.integers(58, 72)), 178)
        boxes, seps = row_boxes(12, 288, y0, y1, [3, 3], 22, 4)
        img, mask = self._base(rng, w, h, bg, 14, border=(150, 150, 150))
        bolts = [(int(w * 0.22), 30, 11), (int(w * 0.78), 30, 11)]
        hole = (25, 25, 25) if bg == WHITE else tuple(int(c * 0.35) for c in bg)
        for bx, by, _ in bolts:
            slot(img, bx, by, 30, 10, hole)
        if banner:
            self._region(rng, img, 95, 18, 205, 56, aged(rng, text_col))
        style = "1992" if rng.random() < 0.85 else "2014"
        layer = text_layer((h, w), self._latin(label.replace("-", ""), style), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        for sx0, sx1 in seps:
            separator(layer, sx0, sx1, (y0 + y1) / 2, y1 - y0, 255, pick(rng, ["dot", "dash"]))
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        paint(img, layer, aged(rng, text_col))
        return Plate(img, mask, bolts, (0, y0 - 4), (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ special plates (1992 layout)
    def special(self, rng: np.random.Generator, kind: str, label: str) -> Plate:
        """A special plate (``label`` is one CJK character and digits): ``kind`` picks the layout and colours."""
        w, h = 308, 145
        y0, y1 = 33, 124
        ch, digits = label[0], label[1:]
        bolts = [(67, 10, 9), (241, 10, 9)]
        if kind in ("diplomat", "consular", "foreign"):
            bg = WHITE
            img, mask = self._base(rng, w, h, bg, 10, border=(120, 120, 120))
            if kind == "foreign":
                px = 88
                panel = YELLOW if rng.random() < 0.6 else BLUE_PANEL
            else:
                px = 133
                panel = RED if kind == "diplomat" or rng.random() < 0.5 else (40, 120, 240)
            img[:, :px] = aged(rng, panel)
            cjk_box = (6, 30, px - 6, 128) if kind != "foreign" else (4, 38, px - 4, 122)
            n = len(digits)
            if kind == "foreign":
                xs = row_boxes(100, 300, y0, y1, [n], 0, 4)[0]
            elif n == 2:
                xs = row_boxes(165, 290, y0, y1, [n], 0, 14)[0]
            else:
                xs = row_boxes(150, 300, y0, y1, [n], 0, 4)[0]
            text_col = BLACK
            cjk_col = BLACK
            bolts = [(67, 10, 9), (241, 10, 9)]
        else:
            if kind == "test":
                bg, text_col = WHITE, BLUE_TEXT
            elif kind == "temporary":
                bg, text_col = WHITE, pick(rng, [RED, BLACK, BLUE_TEXT], [0.5, 0.3, 0.2])
            else:  # military
                bg, text_col = pick(rng, [(WHITE, BLACK), (BLACK, WHITE), ((40, 70, 45), WHITE)], [0.5, 0.3, 0.2])
            img, mask = self._base(rng, w, h, bg, 10, border=(120, 120, 120))
            n = len(digits)
            cjk_box = (8, 40, 72, 118)
            xs = row_boxes(80, 302, y0, y1, [n], 0, 4 if n == 4 else 2)[0]
            cjk_col = text_col
            if kind == "test" and rng.random() < 0.6:
                self._region(rng, img, 93, 1, 215, 33, aged(rng, text_col))
        hole = (25, 25, 25)
        for bx, by, _ in bolts:
            slot(img, bx, by, 28, 8, hole)
            if rng.random() < 0.8:
                slot(img, bx, h - 10, 28, 8, hole)
        layer = text_layer((h, w), self._latin(digits, "1992"), xs, stretch=rng.uniform(0.9, 1.1))
        cm = self._cjk(rng, ch)
        # brush-written plate characters are often taller than the font's square em
        cm = cv2.resize(cm, (cm.shape[1], int(cm.shape[0] * rng.uniform(1.0, 1.3))))
        cl = text_layer((h, w), [cm], [cjk_box], keep_aspect=True)
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        paint(img, layer, aged(rng, text_col))
        paint(img, cl, aged(rng, cjk_col))
        return Plate(img, mask, bolts, (0, 30), (cjk_box[0], y0, xs[-1][2], y1))
