"""From a flat plate to a phone-crop-like image.

Pipeline for a synthetic sample: plate decorations (bolts/screws, stickers,
dirt, dealer frame), a background, a perspective/rotation warp straight into
the output crop (tight or loose, sometimes cutting the plate's edges), then
photometric degradations (:func:`twplate.training.augment.degrade`: lighting
gradient, shadows, colour cast, motion or defocus blur, low resolution, noise, JPEG).  A severity drawn per image scales
everything; about 12% of images stay nearly clean.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..augment import between
from .draw import paint, rounded_mask
from .fonts import CJKFonts
from .render import Plate

DEALER_CHARS = "車業行機重興順發輝隆安泰豐明昌新大宏聖光華佳勝源達德利盛和台北中高雄市路號電話"


# ------------------------------------------------------------------ decorations
def _bolt(rng: np.random.Generator, img: np.ndarray, x: float, y: float, r: float) -> None:
    kind = rng.random()
    if kind < 0.45:
        base = np.array([between(rng, 120, 200)] * 3)                       # chrome
    elif kind < 0.8:
        base = np.array([between(rng, 20, 60), between(rng, 60, 100), between(rng, 110, 170)])  # rusty / brass
    else:
        base = np.array([between(rng, 20, 60)] * 3)                         # black cap
    r = int(max(3, r * between(rng, 0.8, 1.3)))
    x = int(x + rng.normal(0, r * 0.3))
    y = int(y + rng.normal(0, r * 0.3))
    cv2.circle(img, (x + 1, y + 2), r, (30, 30, 30), -1, cv2.LINE_AA)
    cv2.circle(img, (x, y), r, tuple(float(c) for c in base), -1, cv2.LINE_AA)
    cv2.circle(img, (x - r // 3, y - r // 3), max(1, r // 3),
                tuple(float(min(255, c + 70)) for c in base), -1, cv2.LINE_AA)
    if rng.random() < 0.6:
        cv2.line(img, (x - r // 2, y), (x + r // 2, y), tuple(float(c * 0.4) for c in base), max(1, r // 4))
        if rng.random() < 0.6:
            cv2.line(img, (x, y - r // 2), (x, y + r // 2), tuple(float(c * 0.4) for c in base), max(1, r // 4))


STICKER_COLOURS = [(245, 245, 245), (230, 200, 150), (200, 120, 30), (40, 140, 240), (60, 170, 60),
                   (60, 220, 240), (40, 40, 210), (190, 190, 190), (120, 60, 140), (30, 30, 30)]


def _sticker_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    c = np.asarray(STICKER_COLOURS[int(rng.integers(len(STICKER_COLOURS)))], float)
    b, g, r = (float(v) for v in np.clip(c + rng.normal(0, 12, 3), 0, 255))
    return b, g, r


def _sticker(rng: np.random.Generator, img: np.ndarray, x: float, y: float, s: float) -> None:
    col = _sticker_colour(rng)
    h, w = img.shape[:2]
    if rng.random() < 0.4:
        cv2.circle(img, (int(x), int(y)), int(s / 2), col, -1, cv2.LINE_AA)
        cv2.circle(img, (int(x), int(y)), int(s / 3), _sticker_colour(rng), -1)
    else:
        sw, sh = s * between(rng, 0.8, 1.8), s * between(rng, 0.5, 1.0)
        x0, y0 = int(x - sw / 2), int(y - sh / 2)
        cv2.rectangle(img, (x0, y0), (int(x0 + sw), int(y0 + sh)), col, -1)
        for _ in range(int(rng.integers(1, 4))):         # printed lines on the sticker
            yy = int(y0 + between(rng, 0.2, 0.85) * sh)
            cv2.line(img, (int(x0 + sw * 0.1), yy), (int(x0 + sw * between(rng, 0.4, 0.9)), yy),
                     _sticker_colour(rng), max(1, int(sh * 0.08)))


def _dirt(rng: np.random.Generator, img: np.ndarray, strength: float) -> np.ndarray:
    h, w = img.shape[:2]
    field: np.ndarray = rng.random((max(2, h // 24), max(2, w // 24))).astype(np.float32)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    shade = 1.0 - strength * np.clip(field - 0.3, 0, 1)
    out = img.astype(np.float32) * shade[..., None]
    tint = np.array([between(rng, 40, 90), between(rng, 60, 110), between(rng, 80, 130)], np.float32)
    out += (tint - out) * (strength * 0.25 * np.clip(field - 0.5, 0, 1))[..., None]
    n = int(rng.integers(0, 40))                          # specks
    for _ in range(n):
        cv2.circle(out, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(1, 3)),
                   (float(between(rng, 30, 90)),) * 3, -1)
    return np.clip(out, 0, 255).astype(np.uint8)


def decorate(rng: np.random.Generator, plate: Plate, cjk: CJKFonts | None = None,
             dealer_fonts: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Bolts, stickers, dirt and optionally a dealer frame; returns (img, mask)."""
    img = plate.img.copy()
    mask = plate.mask.copy()
    h, w = img.shape[:2]
    if rng.random() < 0.65:
        for bx, by, r in plate.bolts:
            if rng.random() < 0.9:
                _bolt(rng, img, bx, by, r * 1.1)
    y0, y1 = plate.top_band
    for _ in range(int(rng.choice([0, 0, 1, 1, 2, 3]))):
        s = h * between(rng, 0.12, 0.22)
        sx = between(rng, 0.05, 0.95) * w
        sy = between(rng, y0 + s * 0.3, max(y0 + s * 0.3 + 1, y1 - s * 0.2))
        _sticker(rng, img, sx, sy, s)
    if rng.random() < 0.08:      # small sticker on the character area (lower corner)
        s = h * between(rng, 0.1, 0.15)
        _sticker(rng, img, _pick_side(rng, w), h * between(rng, 0.8, 0.95), s)
    if rng.random() < 0.45:
        img = _dirt(rng, img, between(rng, 0.05, 0.45))
    if rng.random() < 0.3:
        img, mask = _dealer_frame(rng, img, mask, cjk, dealer_fonts)
    return img, mask


def _pick_side(rng: np.random.Generator, w: float) -> float:
    return w * (between(rng, 0.03, 0.12) if rng.random() < 0.5 else between(rng, 0.88, 0.97))


def _dealer_frame(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, cjk: CJKFonts | None,
                  dealer_fonts: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    t = int(h * between(rng, 0.03, 0.08))
    s = int(h * between(rng, 0.03, 0.07))
    b = int(h * between(rng, 0.05, 0.22))
    H, W = h + t + b, w + 2 * s
    if rng.random() < 0.5:
        col = np.array([between(rng, 10, 50)] * 3)              # black frame
    else:
        col = np.asarray(_sticker_colour(rng), float)
    if rng.random() < 0.3:
        col = np.array([between(rng, 150, 230)] * 3)           # chrome / silver
    out = np.empty((H, W, 3), np.uint8)
    out[:] = col.astype(np.uint8)
    fm = rounded_mask(W, H, int(h * 0.1))
    # plate inside the frame
    sub = out[t: t + h, s: s + w]
    a = mask[..., None].astype(np.float32) / 255
    sub[:] = (img * a + sub * (1 - a)).astype(np.uint8)
    if b > h * 0.08:
        ink_bgr = (255 - col).clip(0, 255) if rng.random() < 0.7 else np.array(rng.integers(0, 256, 3), float)
        ink = tuple(float(v) for v in ink_bgr)
        if cjk is not None and dealer_fonts and rng.random() < 0.8:
            k = dealer_fonts[int(rng.integers(len(dealer_fonts)))]
            n = int(rng.integers(2, 6))
            ch_h = int(b * between(rng, 0.45, 0.75))
            x = s + int(between(rng, 0.02, 0.3) * w)
            for _ in range(n):
                ch = DEALER_CHARS[int(rng.integers(len(DEALER_CHARS)))]
                m = cjk.mask(k, ch)
                g = cv2.resize(m, (ch_h, ch_h), interpolation=cv2.INTER_AREA)
                paint(out, g, ink, x, t + h + (b - ch_h) // 2)
                x += int(ch_h * 1.1)
        else:
            x = s + int(between(rng, 0.02, 0.3) * w)
        digits = "".join(str(int(rng.integers(10))) for _ in range(int(rng.integers(6, 9))))
        if rng.random() < 0.5:
            digits = f"({digits[:2]}){digits[2:]}"
        fs = b / 40.0
        cv2.putText(out, digits, (x + int(b * 0.3), t + h + int(b * 0.75)), cv2.FONT_HERSHEY_SIMPLEX,
                    fs, ink, max(1, int(fs * 2)), cv2.LINE_AA)
    return out, fm


# ------------------------------------------------------------------ background
def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Muted, mostly dark surroundings: vehicle body, shadows, road, lamps."""
    level = between(rng, 8, 90) if rng.random() < 0.75 else between(rng, 90, 220)
    sat = between(rng, 0.0, 0.3) if rng.random() < 0.93 else between(rng, 0.3, 0.8)
    gx, gy = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    hue = rng.random((gy, gx, 3)).astype(np.float32) * 2 - 1
    lum = rng.random((gy, gx, 1)).astype(np.float32) * 1.2 + 0.4
    small = level * lum * (1 + sat * hue)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    bg = bg + rng.normal(0, between(rng, 2, 14), (h, w, 1)).astype(np.float32)
    bg = np.clip(bg, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):               # edges of the vehicle body, lamps
        c = tuple(float(v) for v in (between(rng, 0, 200) * (1 + 0.3 * (rng.random(3) * 2 - 1))))
        p1 = (int(rng.integers(-w, 2 * w)), int(rng.integers(-h, 2 * h)))
        p2 = (int(rng.integers(-w, 2 * w)), int(rng.integers(-h, 2 * h)))
        cv2.line(bg, p1, p2, c, int(rng.integers(2, max(3, h // 4))), cv2.LINE_AA)
    return bg


# ------------------------------------------------------------------ geometry
def place(rng: np.random.Generator, img: np.ndarray, mask: np.ndarray, out_w_plate: float,
          severity: float) -> np.ndarray:
    """Warp the (decorated) plate into a crop of its own size plus margins."""
    h, w = img.shape[:2]
    scale = out_w_plate / w
    pw, ph = out_w_plate, h * scale
    # pre-shrink with area interpolation (anti-aliasing), then warp
    if scale < 0.9:
        sw, sh = max(8, int(round(w * scale * 1.2))), max(4, int(round(h * scale * 1.2)))
        img = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (sw, sh), interpolation=cv2.INTER_AREA)
        h, w = sh, sw
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32) - np.array([pw / 2, ph / 2], np.float32)
    # perspective: keystone in x and y, shear, per-corner jitter, rotation
    kx = rng.normal(0, 0.06 * severity + 0.01)
    ky = rng.normal(0, 0.05 * severity + 0.01)
    dst[:, 1] *= 1 + np.array([-kx, kx, kx, -kx], np.float32)
    dst[:, 0] *= 1 + np.array([-ky, -ky, ky, ky], np.float32)
    dst[:, 0] += dst[:, 1] * rng.normal(0, 0.05 * severity + 0.01)
    dst += rng.normal(0, (0.015 * severity + 0.003) * pw, (4, 2)).astype(np.float32)
    ang = np.deg2rad(np.clip(rng.normal(0, 2.5 + 4 * severity), -15, 15))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    dst = dst @ rot.T
    x0, y0 = dst.min(0)
    x1, y1 = dst.max(0)
    bw, bh = x1 - x0, y1 - y0
    # crop margins relative to the plate height: mostly tight, sometimes loose or cut
    def margin(cut: float) -> float:
        r = rng.random()
        if r < 0.12:
            return between(rng, -cut, 0.0)      # cut edge (the plate's rim, not the characters)
        if r < 0.85:
            return between(rng, 0.0, 0.08)
        return between(rng, 0.08, 0.35)         # loose crop
    ml, mr, mt, mb = (margin(c) * ph for c in (0.05, 0.05, 0.06, 0.015))
    W = int(round(bw + ml + mr))
    H = int(round(bh + mt + mb))
    W, H = max(W, 16), max(H, 8)
    dst = dst - np.array([x0, y0], np.float32) + np.array([ml, mt], np.float32)
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpPerspective(mask, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    bg = background(rng, W, H)
    if rng.random() < 0.5:                                  # plate casts a slight shadow
        shadow = cv2.GaussianBlur(a, (0, 0), max(1.0, 0.03 * ph))
        shadow = np.roll(shadow, (int(0.03 * ph), int(0.02 * ph)), (0, 1))
        bg = (bg.astype(np.float32) * (1 - 0.5 * shadow[..., None] / 255.0)).astype(np.uint8)
    af = a.astype(np.float32)[..., None] / 255.0
    return (warped * af + bg * (1 - af)).astype(np.uint8)


def severity(rng: np.random.Generator) -> float:
    """Per-image augmentation strength in [0, 1]; ~12% nearly clean."""
    if rng.random() < 0.12:
        return 0.03
    return float(np.clip(rng.beta(1.6, 2.2), 0.05, 1.0))
