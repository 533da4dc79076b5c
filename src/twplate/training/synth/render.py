"""Plate kinds: label sampling and flat (un-augmented) plate rendering.

Every plate is drawn procedurally in its own pixel space (about 1 px per mm,
boxes measured from the glyph folder's templates) from glyph masks: a rounded
plate in the scheme's background colour, mounting slots, 2014 plum-blossom
emblems, 電動車 / region banners, then the characters.  Colours are BGR.
"""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import CJKFonts, GlyphSource

# ---------------------------------------------------------------- colours (BGR)
WHITE = (250, 250, 250)
BLACK = (22, 22, 22)
GREEN = (40, 125, 18)
RED = (30, 20, 225)
YELLOW = (50, 235, 250)
BLUE_TEXT = (150, 60, 25)
BLUE_PANEL = (215, 145, 60)
EV_GREEN = (55, 140, 25)

REGION_WEIGHTS = {"taiwansheng": 0.45, "taibeishi": 0.30, "gaoxiongshi": 0.17, "jinmenxian": 0.04,
                  "lianjiangxian": 0.04}
DIGITS = "0123456789"
DIGITS_2014 = "012356789"          # new plates use no 4
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LETTERS_2014 = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # new plates use no I and no O
LETTERS_OLD = LETTERS               # 1992-era plates may use I and O

# ------------------------------------------------------------- 2014 prefixes
# (ranges, text colour, background colour, weight, wheelchair symbol) from ROC_2014.png
CAR2014 = [
    (["AJF-DZZ", "FAA-GZZ", "UAA-VZZ", "EAN-EZZ"], BLACK, WHITE, 0.38, False),  # private car
    (["WAC-WDZ", "WEF-WEZ"], BLACK, WHITE, 0.04, True),                        # disabled driver
    (["RAQ-RDZ", "RFA-RZZ", "REN-REZ"], BLACK, WHITE, 0.10, False),            # rental
    (["KEA-KHZ", "KSA-KSZ"], GREEN, WHITE, 0.05, False),                       # private truck
    (["KJA-KJZ"], GREEN, WHITE, 0.02, False),                                  # private bus
    (["HAA-HAZ"], GREEN, WHITE, 0.02, False),                                  # private trailer
    (["KKA-KKZ"], WHITE, GREEN, 0.03, False),                                  # commercial bus
    (["KLA-KMZ", "KRA-KRZ"], WHITE, GREEN, 0.05, False),                       # commercial truck
    (["KNA-KNZ"], WHITE, GREEN, 0.02, False),                                  # commercial tractor
    (["KPA-KPZ", "KTA-KTZ"], WHITE, GREEN, 0.05, False),                       # commercial small truck
    (["HBA-HDZ"], WHITE, GREEN, 0.03, False),                                  # commercial trailer
    (["TAA-TZZ"], RED, WHITE, 0.10, False),                                    # taxi
    (["KAA-KDZ"], WHITE, RED, 0.05, False),                                    # tour bus
    (["KQA-KQD"], BLACK, YELLOW, 0.03, False),                                 # traffic school car
]
EV2014 = [
    (["EAB-EAK"], BLACK, WHITE, 0.40, False),   # electric private car
    (["EAL-EAL"], GREEN, WHITE, 0.15, False),   # electric bus
    (["EAM-EAM"], RED, WHITE, 0.15, False),     # electric taxi
    (["REA-REM"], BLACK, WHITE, 0.20, False),   # electric rental
    (["WEA-WEE"], BLACK, WHITE, 0.10, True),    # electric, disabled driver
]
MOTO2014 = [
    (["MAY-NZZ"], BLACK, WHITE, 0.55, False),   # ordinary heavy scooters, 8th generation M*/N*
    (["PAA-PZZ", "JAA-JZZ", "XAA-ZZZ", "WFA-WZZ", "QNA-QZZ", "LNA-LZZ", "HEA-HZZ",
      "KUA-KZZ", "KQE-KQZ", "SFA-SZZ"], BLACK, WHITE, 0.16, False),
    (["QAL-QMZ"], WHITE, GREEN, 0.05, False),   # light motorcycles
    (["SAC-SEZ"], RED, WHITE, 0.05, False),     # small light motorcycles
    (["LAD-LFZ"], BLACK, YELLOW, 0.04, False),  # large heavy motorcycles
    (["LGA-LMZ"], WHITE, RED, 0.03, False),     # 550 cc and above
    (["EMA-EPZ"], BLACK, WHITE, 0.12, False),   # electric scooters (banner or not: see docs)
]


def _code(s: str) -> int:
    a = LETTERS_2014
    return (a.index(s[0]) * 24 + a.index(s[1])) * 24 + a.index(s[2])


def _decode(n: int) -> str:
    a = LETTERS_2014
    return a[n // 576] + a[(n // 24) % 24] + a[n % 24]


def _pick(rng, items, weights=None):
    if weights is None:
        return items[int(rng.integers(len(items)))]
    w = np.asarray(weights, float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def _prefix(rng, ranges) -> str:
    spans = [(_code(r[:3]), _code(r[4:])) for r in ranges]
    sizes = [hi - lo + 1 for lo, hi in spans]
    lo, hi = _pick(rng, spans, sizes)
    return _decode(int(rng.integers(lo, hi + 1)))


def _digits(rng, n, alphabet=DIGITS, nonzero=True) -> str:
    while True:
        s = "".join(alphabet[int(rng.integers(len(alphabet)))] for _ in range(n))
        if not nonzero or s.strip("0"):
            return s


def _fill_format(rng, fmt: str, letters=LETTERS_OLD, digits=DIGITS) -> str:
    out = []
    for c in fmt:
        if c == "L":
            # I and O are rare on old plates
            a = letters if rng.random() < 0.35 else letters.replace("I", "").replace("O", "")
            out.append(a[int(rng.integers(len(a)))])
        elif c == "D":
            out.append(digits[int(rng.integers(len(digits)))])
        else:
            out.append(c)
    return "".join(out)


# --------------------------------------------------------------- drawing utils
def _rounded_mask(w, h, r, inset=0):
    m = np.zeros((h, w), np.uint8)
    r = max(1, int(r))
    x0, y0, x1, y1 = inset, inset, w - 1 - inset, h - 1 - inset
    cv2.rectangle(m, (x0 + r, y0), (x1 - r, y1), 255, -1)
    cv2.rectangle(m, (x0, y0 + r), (x1, y1 - r), 255, -1)
    for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
        cv2.circle(m, (cx, cy), r, 255, -1, cv2.LINE_AA)
    return m


def _paint(img, alpha, colour, x=0, y=0):
    """Alpha-blend a solid colour through ``alpha`` (uint8 or float 0-1) at (x, y)."""
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


def _fit(mask, bw, bh, keep_aspect=False, stretch=1.0):
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


def _text_layer(shape, glyphs, boxes, keep_aspect=False, stretch=1.0, valign="c"):
    layer = np.zeros(shape, np.uint8)
    for m, (x0, y0, x1, y1) in zip(glyphs, boxes):
        g = _fit(m, int(x1 - x0), int(y1 - y0), keep_aspect, stretch)
        gx = int(round((x0 + x1 - g.shape[1]) / 2))
        gy = int(round((y0 + y1 - g.shape[0]) / 2)) if valign == "c" else int(y0)
        sub = layer[gy: gy + g.shape[0], gx: gx + g.shape[1]]
        np.maximum(sub, g[: sub.shape[0], : sub.shape[1]], out=sub)
    return layer


def _row_boxes(x0, x1, y0, y1, groups, sep_w, gap):
    """Boxes for character groups (e.g. [3, 4]) laid out in [x0, x1] with a separator gap."""
    n = sum(groups)
    cw = (x1 - x0 - sep_w * (len(groups) - 1) - gap * (n - len(groups))) / n
    boxes, seps, x = [], [], x0
    for gi, g in enumerate(groups):
        for i in range(g):
            boxes.append((x, y0, x + cw, y1))
            x += cw + (gap if i < g - 1 else 0)
        if gi < len(groups) - 1:
            seps.append((x, x + sep_w))
            x += sep_w
    return [tuple(int(round(v)) for v in b) for b in boxes], seps


def _slot(img, cx, cy, w, h, colour):
    cv2.ellipse(img, (int(cx), int(cy)), (int(w / 2), int(h / 2)), 0, 0, 360, colour, -1, cv2.LINE_AA)
    r = h / 2
    cv2.rectangle(img, (int(cx - w / 2 + r), int(cy - h / 2)), (int(cx + w / 2 - r), int(cy + h / 2)),
                  colour, -1)


def _emblem(img, cx, cy, r, colour):
    for k in range(5):
        a = -np.pi / 2 + k * 2 * np.pi / 5
        cv2.circle(img, (int(cx + r * 0.55 * np.cos(a)), int(cy + r * 0.55 * np.sin(a))),
                   max(1, int(r * 0.5)), colour, -1, cv2.LINE_AA)
    cv2.circle(img, (int(cx), int(cy)), max(1, int(r * 0.3)), (255, 255, 255), -1, cv2.LINE_AA)


def _wheelchair(img, cx, cy, s, colour):
    cv2.circle(img, (int(cx), int(cy + s * 0.25)), int(s * 0.4), colour, max(1, int(s * 0.12)), cv2.LINE_AA)
    cv2.circle(img, (int(cx - s * 0.05), int(cy - s * 0.55)), max(1, int(s * 0.13)), colour, -1, cv2.LINE_AA)
    cv2.line(img, (int(cx - s * 0.05), int(cy - s * 0.35)), (int(cx), int(cy + s * 0.1)), colour,
             max(1, int(s * 0.14)))
    cv2.line(img, (int(cx), int(cy + s * 0.1)), (int(cx + s * 0.45), int(cy + s * 0.15)), colour,
             max(1, int(s * 0.12)))


def _separator(img, x0, x1, yc, h, colour, style):
    cx = (x0 + x1) / 2
    if style == "dot":
        s = max(3, (x1 - x0) * 0.55)
        cv2.rectangle(img, (int(cx - s / 2), int(yc - s / 2)), (int(cx + s / 2), int(yc + s / 2)), colour, -1)
    else:
        w = max(4, (x1 - x0) * 0.8)
        t = max(3, h * 0.09)
        cv2.rectangle(img, (int(cx - w / 2), int(yc - t / 2)), (int(cx + w / 2), int(yc + t / 2)), colour, -1)


def _age(rng, colour):
    """Faded / dirty version of a scheme colour."""
    c = np.asarray(colour, float)
    if rng.random() < 0.5:
        tint = np.array([1.0, 1.0, 1.0]) + rng.normal(0, 0.025) * np.array([-1.0, 0.0, 1.0])
        c = c * rng.uniform(0.82, 1.0) * tint + rng.normal(0, 2.5, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


class Plate:
    """A flat plate: BGR image, alpha mask, and where bolts and stickers may go."""

    def __init__(self, img, mask, bolts, top_band, char_area):
        self.img = img
        self.mask = mask
        self.bolts = bolts          # [(x, y, r)] mounting-hole centres
        self.top_band = top_band    # (y0, y1) free strip above the characters
        self.char_area = char_area  # (x0, y0, x1, y1)


class Renderer:
    def __init__(self, glyphs: GlyphSource, cjk: CJKFonts):
        self.g = glyphs
        self.cjk = cjk
        self.ev_fonts = cjk.fonts_for("電動車")

    # ------------------------------------------------------------ helpers
    def _latin(self, text, style):
        return [self.g.mask(style, c) for c in text]

    def _cjk(self, rng, ch):
        ks = self.cjk.fonts_for(ch)
        return self.cjk.mask(ks[int(rng.integers(len(ks)))], ch)

    def _base(self, rng, w, h, bg, radius, border=None):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = _age(rng, bg)
        mask = _rounded_mask(w, h, radius)
        if border is not None and rng.random() < 0.7:
            b = _rounded_mask(w, h, radius, inset=int(rng.integers(1, 4)))
            edge = cv2.subtract(mask, b)
            cv2.rectangle(edge, (0, 0), (w - 1, h - 1), 0, 1)
            _paint(img, cv2.GaussianBlur(edge, (3, 3), 0), border)
        return img, mask

    def _ev_banner(self, rng, img, y0, y1, text_col=WHITE):
        w = img.shape[1]
        img[y0:y1] = _age(rng, EV_GREEN)
        ks = self.ev_fonts
        k = ks[int(rng.integers(len(ks)))]
        hh = int((y1 - y0) * 0.72)
        cw = hh
        x = w // 2 - int(cw * 1.9)
        for i, ch in enumerate("電動車"):
            m = self.cjk.mask(k, ch)
            g = cv2.resize(m, (cw, hh), interpolation=cv2.INTER_AREA)
            _paint(img, g, text_col, x + i * int(cw * 1.4), y0 + (y1 - y0 - hh) // 2)

    def _region(self, rng, img, x0, y0, x1, y1, colour):
        if not self.g.regions:
            return
        names = [n for n in REGION_WEIGHTS if n in self.g.regions] or sorted(self.g.regions)
        name = _pick(rng, names, [REGION_WEIGHTS.get(n, 0.05) for n in names])
        m = self.g.regions[name]
        g = cv2.resize(m, (int(x1 - x0), int(y1 - y0)), interpolation=cv2.INTER_AREA)
        _paint(img, g, colour, int(x0), int(y0))

    @staticmethod
    def _weight(rng, layer):
        """Vary the stroke weight (thinner paint on scooter plates, bolder on others)."""
        r = rng.random()
        if r < 0.25:
            return cv2.erode(layer, np.ones((3, 3), np.uint8))
        if r < 0.35:
            return cv2.dilate(layer, np.ones((2, 2), np.uint8))
        return layer

    def _emboss(self, rng, img, layer, bg):
        if rng.random() < 0.5:
            d = int(rng.integers(1, 3))
            sh = np.zeros_like(layer)
            sh[d:, d:] = layer[:-d, :-d]
            dark = tuple(int(c * 0.55) for c in bg)
            _paint(img, (sh.astype(np.float32) / 255.0) * rng.uniform(0.3, 0.8), dark)

    # ------------------------------------------------------------ 2014
    def plate2014(self, rng, label, text_col, bg, ev=False, wheelchair=False, moto=False):
        if moto:
            w, h = 260, 150
            y0, y1 = 50, 124
            boxes, seps = _row_boxes(12, 248, y0, y1, [3, 4], 15, 2)
            bolts = [(70, 22, 9), (190, 22, 9)]
            top_band = (0, 46)
        else:
            w, h = 365, 155
            y0, y1 = 38, 126
            boxes, seps = _row_boxes(9, 357, y0, y1, [3, 4], 16, 2)
            bolts = [(92, 14, 10), (273, 14, 10)]
            top_band = (0, 34)
        img, mask = self._base(rng, w, h, bg, 12, border=(140, 140, 140))
        ev_band = ev and (not moto or rng.random() < 0.6)
        if ev_band:
            bh = int(h * 0.20)
            self._ev_banner(rng, img, 0, bh)
            img[h - int(h * 0.17):] = _age(rng, EV_GREEN)
            top_band = (0, bh)
        # mounting slots
        slot_col = (255, 255, 255) if ev_band else _pick(rng, [(25, 25, 25), tuple(int(c * 0.4) for c in bg)])
        for bx, by, _ in bolts:
            _slot(img, bx, by - 2 if not ev_band else h * 0.1, 26, 7, slot_col)
        if wheelchair:
            _wheelchair(img, w * 0.79 if ev_band else w * 0.5, h * 0.1, h * 0.12,
                        (255, 255, 255) if ev_band else (200, 40, 20))
        # emblems
        if rng.random() < 0.9:
            for i, ex in enumerate((0.26, 0.5, 0.74)):
                col = (235, 235, 235) if i == 1 else (230, 170, 90)
                _emblem(img, w * ex, h - h * 0.085, h * 0.045, col)
        style = "2014" if rng.random() < 0.6 else "2012"
        layer = _text_layer((h, w), self._latin(label.replace("-", ""), style), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        for sx0, sx1 in seps:
            _separator(layer, sx0, sx1, (y0 + y1) / 2, y1 - y0, 255, "dot")
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        _paint(img, layer, _age(rng, text_col))
        return Plate(img, mask, bolts, top_band, (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ 1992 cars
    LAYOUT_1992 = {
        (2, 4): ([(3, 51), (51, 99), (113, 161), (161, 209), (209, 257), (257, 305)], (99, 113), "dot"),
        (4, 2): ([(3, 51), (51, 99), (99, 147), (147, 195), (209, 257), (257, 305)], (195, 209), "dot"),
        (2, 3): ([(10, 57), (64, 112), (140, 188), (194, 244), (249, 299)], (112, 140), "dash"),
        (3, 2): ([(10, 57), (64, 112), (119, 167), (195, 243), (250, 298)], (167, 195), "dash"),
        (2, 2): ([(17, 66), (86, 135), (173, 222), (242, 291)], (135, 173), "dash"),
    }

    def plate1992(self, rng, label, text_col, bg, banner="region", wheelchair=False):
        groups = tuple(len(p) for p in label.split("-"))
        xs, sep, sep_style = self.LAYOUT_1992[groups]
        w, h = 308, 145
        y0, y1 = 33, 124
        img, mask = self._base(rng, w, h, bg, 10, border=(120, 120, 120))
        bolts = [(67, 10, 9), (241, 10, 9)]
        if banner == "ev":
            self._ev_banner(rng, img, 0, 30)
            img[h - 16:] = _age(rng, EV_GREEN)
            y0, y1 = 32, 123
        elif banner == "region":
            self._region(rng, img, 93, 1, 215, 33, _age(rng, text_col))
        hole = (25, 25, 25) if bg == WHITE else tuple(int(c * 0.35) for c in bg)
        for bx, by, _ in bolts:
            _slot(img, bx, by, 28, 8, (255, 255, 255) if banner == "ev" else hole)
            if rng.random() < 0.8:
                _slot(img, bx, h - 10, 28, 8, hole)
        if wheelchair:
            _wheelchair(img, w / 2, 16, 16, (200, 40, 20))
        boxes = [(a, y0, b, y1) for a, b in xs]
        layer = _text_layer((h, w), self._latin(label.replace("-", ""), "1992"), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        _separator(layer, sep[0], sep[1], (y0 + y1) / 2, y1 - y0, 255, sep_style)
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        _paint(img, layer, _age(rng, text_col))
        return Plate(img, mask, bolts, (0, 30), (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ old scooters (3+3)
    def scooter_old(self, rng, label, text_col, bg, banner=True):
        w, h = 300, 190
        y0, y1 = (72, 178) if banner else (int(rng.integers(58, 72)), 178)
        boxes, seps = _row_boxes(12, 288, y0, y1, [3, 3], 22, 4)
        img, mask = self._base(rng, w, h, bg, 14, border=(150, 150, 150))
        bolts = [(int(w * 0.22), 30, 11), (int(w * 0.78), 30, 11)]
        hole = (25, 25, 25) if bg == WHITE else tuple(int(c * 0.35) for c in bg)
        for bx, by, _ in bolts:
            _slot(img, bx, by, 30, 10, hole)
        if banner:
            self._region(rng, img, 95, 18, 205, 56, _age(rng, text_col))
        style = "1992" if rng.random() < 0.85 else "2014"
        layer = _text_layer((h, w), self._latin(label.replace("-", ""), style), boxes,
                            stretch=rng.uniform(0.9, 1.1))
        for sx0, sx1 in seps:
            _separator(layer, sx0, sx1, (y0 + y1) / 2, y1 - y0, 255, _pick(rng, ["dot", "dash"]))
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        _paint(img, layer, _age(rng, text_col))
        return Plate(img, mask, bolts, (0, y0 - 4), (boxes[0][0], y0, boxes[-1][2], y1))

    # ------------------------------------------------------------ special plates (1992 layout)
    def special(self, rng, kind, label):
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
            img[:, :px] = _age(rng, panel)
            cjk_box = (6, 30, px - 6, 128) if kind != "foreign" else (4, 38, px - 4, 122)
            n = len(digits)
            if kind == "foreign":
                xs = _row_boxes(100, 300, y0, y1, [n], 0, 4)[0]
            elif n == 2:
                xs = _row_boxes(165, 290, y0, y1, [n], 0, 14)[0]
            else:
                xs = _row_boxes(150, 300, y0, y1, [n], 0, 4)[0]
            text_col = BLACK
            cjk_col = BLACK
            bolts = [(67, 10, 9), (241, 10, 9)]
        else:
            if kind == "test":
                bg, text_col = WHITE, BLUE_TEXT
            elif kind == "temporary":
                bg, text_col = WHITE, _pick(rng, [RED, BLACK, BLUE_TEXT], [0.5, 0.3, 0.2])
            else:  # military
                bg, text_col = _pick(rng, [(WHITE, BLACK), (BLACK, WHITE), ((40, 70, 45), WHITE)], [0.5, 0.3, 0.2])
            img, mask = self._base(rng, w, h, bg, 10, border=(120, 120, 120))
            n = len(digits)
            cjk_box = (8, 40, 72, 118)
            xs = _row_boxes(80, 302, y0, y1, [n], 0, 4 if n == 4 else 2)[0]
            cjk_col = text_col
            if kind == "test" and rng.random() < 0.6:
                self._region(rng, img, 93, 1, 215, 33, _age(rng, text_col))
        hole = (25, 25, 25)
        for bx, by, _ in bolts:
            _slot(img, bx, by, 28, 8, hole)
            if rng.random() < 0.8:
                _slot(img, bx, h - 10, 28, 8, hole)
        layer = _text_layer((h, w), self._latin(digits, "1992"), xs, stretch=rng.uniform(0.9, 1.1))
        cm = self._cjk(rng, ch)
        # brush-written plate characters are often taller than the font's square em
        cm = cv2.resize(cm, (cm.shape[1], int(cm.shape[0] * rng.uniform(1.0, 1.3))))
        cl = _text_layer((h, w), [cm], [cjk_box], keep_aspect=True)
        layer = self._weight(rng, layer)
        self._emboss(rng, img, layer, bg)
        _paint(img, layer, _age(rng, text_col))
        _paint(img, cl, _age(rng, cjk_col))
        return Plate(img, mask, bolts, (0, 30), (cjk_box[0], y0, xs[-1][2], y1))


# ------------------------------------------------------------------ kinds
def _sample_2014(rng, table):
    ranges, tc, bg, _, wc = _pick(rng, table, [t[3] for t in table])
    return _prefix(rng, ranges) + "-" + _digits(rng, 4, DIGITS_2014), tc, bg, wc, ranges


def k_car2014(r: Renderer, rng):
    label, tc, bg, wc, _ = _sample_2014(rng, CAR2014)
    return label, r.plate2014(rng, label, tc, bg, wheelchair=wc)


def k_ev2014(r: Renderer, rng):
    label, tc, bg, wc, _ = _sample_2014(rng, EV2014)
    return label, r.plate2014(rng, label, tc, bg, ev=True, wheelchair=wc)


def k_moto2014(r: Renderer, rng):
    label, tc, bg, wc, ranges = _sample_2014(rng, MOTO2014)
    return label, r.plate2014(rng, label, tc, bg, ev=ranges == ["EMA-EPZ"], moto=True)


def k_car1992(r: Renderer, rng):
    fmt = _pick(rng, ["LL-DDDD", "DL-DDDD", "LD-DDDD", "DDDD-LL", "DDDD-LD", "DDDD-DL", "DDDD-DD"],
                [0.10, 0.12, 0.08, 0.42, 0.18, 0.03, 0.07])
    label = _fill_format(rng, fmt)
    if fmt == "DDDD-DD":                       # rental: two identical digits
        label = label[:5] + label[5] * 2
    variant = _pick(rng, ["region", "none", "ev", "wheelchair"], [0.4, 0.45, 0.08, 0.07])
    if variant in ("ev", "wheelchair") and not fmt.startswith("DDDD"):
        variant = "none"
    tc = BLACK
    if variant == "ev":
        tc = _pick(rng, [BLACK, GREEN, RED])
    return label, r.plate1992(rng, label, tc, WHITE, banner=variant if variant != "wheelchair" else "none",
                              wheelchair=variant == "wheelchair")


def k_small1992(r: Renderer, rng):
    layout = _pick(rng, ["2+3", "3+2", "2+2"], [0.4, 0.45, 0.15])
    if layout == "2+3":
        label = _fill_format(rng, _pick(rng, ["LL-DDD", "LD-DDD", "DL-DDD"], [0.6, 0.3, 0.1]))
        tc, bg = _pick(rng, [(RED, WHITE), (WHITE, RED), (BLACK, YELLOW), (GREEN, WHITE), (WHITE, GREEN)],
                       [0.35, 0.2, 0.15, 0.15, 0.15])
    elif layout == "3+2":
        label = _fill_format(rng, _pick(rng, ["DDD-LL", "DDD-LD", "DDD-DL"], [0.6, 0.3, 0.1]))
        tc, bg = _pick(rng, [(WHITE, GREEN), (GREEN, WHITE), (WHITE, RED), (RED, WHITE), (BLACK, WHITE)],
                       [0.3, 0.3, 0.15, 0.15, 0.1])
    else:
        label = _fill_format(rng, _pick(rng, ["DD-LD", "LL-DD", "DD-DD", "LL-LL"], [0.4, 0.4, 0.1, 0.1]))
        tc, bg = _pick(rng, [(GREEN, WHITE), (WHITE, GREEN)])
    banner = _pick(rng, ["region", "none", "ev"], [0.55, 0.35, 0.10])
    if banner == "ev" and (layout != "3+2" or bg != WHITE):
        banner = "region"
    return label, r.plate1992(rng, label, tc, bg, banner=banner)


def k_scooter_old(r: Renderer, rng):
    fmt = _pick(rng, ["DDD-LLL", "LLL-DDD", "LLD-DDD", "LDL-DDD", "DLL-DDD", "LDD-DDD", "DLD-DDD"],
                [0.55, 0.12, 0.10, 0.10, 0.07, 0.04, 0.02])
    label = _fill_format(rng, fmt)
    tc, bg = _pick(rng, [(BLACK, WHITE), (WHITE, GREEN), (GREEN, WHITE), (RED, WHITE), (BLACK, YELLOW)],
                   [0.84, 0.05, 0.05, 0.03, 0.03])
    banner = rng.random() < (0.35 if fmt == "DDD-LLL" else 0.8)
    return label, r.scooter_old(rng, label, tc, bg, banner=banner)


def _special(kind, ch, ndigits):
    def f(r: Renderer, rng):
        n = ndigits[int(rng.integers(len(ndigits)))]
        label = ch + _digits(rng, n)
        return label, r.special(rng, kind, label)
    return f


KINDS = {
    "car2014": k_car2014,
    "ev2014": k_ev2014,
    "moto2014": k_moto2014,
    "car1992": k_car1992,
    "small1992": k_small1992,
    "scooter_old": k_scooter_old,
    "test": _special("test", "試", [4]),
    "diplomat": _special("diplomat", "使", [2, 3]),
    "foreign": _special("foreign", "外", [4]),
    "military": _special("military", "軍", [4, 5]),
    "consular": _special("consular", "領", [2, 3]),
    "temporary": _special("temporary", "臨", [4]),
}
# default mix: roughly the real data's shares, with ~18% special plates
WEIGHTS = {
    "car2014": 0.12, "ev2014": 0.05, "moto2014": 0.34, "car1992": 0.09, "small1992": 0.05,
    "scooter_old": 0.17,
    "test": 0.035, "diplomat": 0.03, "foreign": 0.035, "military": 0.03, "consular": 0.025,
    "temporary": 0.025,
}
SPECIAL = ("test", "diplomat", "foreign", "military", "consular", "temporary")
ALIASES = {"shi4": "test", "shi": "test", "shi3": "diplomat", "wai": "foreign", "jun": "military",
           "ling": "consular", "lin": "temporary"}
GROUPS = {"special": SPECIAL, "regular": tuple(k for k in KINDS if k not in SPECIAL), "all": tuple(KINDS)}
CJK_NEEDED = {"test": "試", "diplomat": "使", "foreign": "外", "military": "軍", "consular": "領",
              "temporary": "臨", "ev2014": "電動車", "moto2014": "電動車", "car1992": "電動車",
              "small1992": "電動車"}


def parse_kinds(spec) -> list[str]:
    """'special' / 'shi4,wai' / ['car2014', ...] / None -> list of kind names."""
    if spec is None or spec == "" or spec == []:
        return list(KINDS)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = []
    for it in items:
        it = it.strip().lower()
        if not it:
            continue
        it = ALIASES.get(it, it)
        if it in GROUPS:
            out.extend(GROUPS[it])
        elif it in KINDS:
            out.append(it)
        else:
            raise ValueError(f"unknown plate kind {it!r}; known: {', '.join(KINDS)}, groups: "
                             f"{', '.join(GROUPS)}, aliases: {', '.join(ALIASES)}")
    return list(dict.fromkeys(out))
