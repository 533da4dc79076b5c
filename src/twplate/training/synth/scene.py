"""From a flat plate to a phone-crop-like image, and ``augment`` for real crops.

Pipeline for a synthetic sample: plate decorations (bolts/screws, stickers,
dirt, dealer frame), a background, a perspective/rotation warp straight into
the output crop (tight or loose, sometimes cutting the plate's edges), then
photometric degradations (lighting gradient, shadows, colour cast, motion or
defocus blur, low resolution, noise, JPEG).  A severity drawn per image scales
everything; about 12% of images stay nearly clean.
"""

from __future__ import annotations

import cv2
import numpy as np

from .render import Plate, _paint, _rounded_mask

DEALER_CHARS = "車業行機重興順發輝隆安泰豐明昌新大宏聖光華佳勝源達德利盛和台北中高雄市路號電話"


def _u(rng, a, b):
    return float(rng.uniform(min(a, b), max(a, b)))


# ------------------------------------------------------------------ decorations
def _bolt(rng, img, x, y, r):
    kind = rng.random()
    if kind < 0.45:
        base = np.array([_u(rng, 120, 200)] * 3)                       # chrome
    elif kind < 0.8:
        base = np.array([_u(rng, 20, 60), _u(rng, 60, 100), _u(rng, 110, 170)])  # rusty / brass
    else:
        base = np.array([_u(rng, 20, 60)] * 3)                         # black cap
    r = int(max(3, r * _u(rng, 0.8, 1.3)))
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


def _sticker_colour(rng):
    c = np.asarray(STICKER_COLOURS[int(rng.integers(len(STICKER_COLOURS)))], float)
    return tuple(float(v) for v in np.clip(c + rng.normal(0, 12, 3), 0, 255))


def _sticker(rng, img, x, y, s):
    col = _sticker_colour(rng)
    h, w = img.shape[:2]
    if rng.random() < 0.4:
        cv2.circle(img, (int(x), int(y)), int(s / 2), col, -1, cv2.LINE_AA)
        cv2.circle(img, (int(x), int(y)), int(s / 3), _sticker_colour(rng), -1)
    else:
        sw, sh = s * _u(rng, 0.8, 1.8), s * _u(rng, 0.5, 1.0)
        x0, y0 = int(x - sw / 2), int(y - sh / 2)
        cv2.rectangle(img, (x0, y0), (int(x0 + sw), int(y0 + sh)), col, -1)
        for _ in range(int(rng.integers(1, 4))):         # printed lines on the sticker
            yy = int(y0 + _u(rng, 0.2, 0.85) * sh)
            cv2.line(img, (int(x0 + sw * 0.1), yy), (int(x0 + sw * _u(rng, 0.4, 0.9)), yy),
                     _sticker_colour(rng), max(1, int(sh * 0.08)))


def _dirt(rng, img, strength):
    h, w = img.shape[:2]
    field = rng.random((max(2, h // 24), max(2, w // 24))).astype(np.float32)
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    shade = 1.0 - strength * np.clip(field - 0.3, 0, 1)
    out = img.astype(np.float32) * shade[..., None]
    tint = np.array([_u(rng, 40, 90), _u(rng, 60, 110), _u(rng, 80, 130)], np.float32)
    out += (tint - out) * (strength * 0.25 * np.clip(field - 0.5, 0, 1))[..., None]
    n = int(rng.integers(0, 40))                          # specks
    for _ in range(n):
        cv2.circle(out, (int(rng.integers(w)), int(rng.integers(h))), int(rng.integers(1, 3)),
                   (float(_u(rng, 30, 90)),) * 3, -1)
    return np.clip(out, 0, 255).astype(np.uint8)


def decorate(rng, plate: Plate, cjk=None, dealer_fonts=()):
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
        s = h * _u(rng, 0.12, 0.22)
        sx = _u(rng, 0.05, 0.95) * w
        sy = _u(rng, y0 + s * 0.3, max(y0 + s * 0.3 + 1, y1 - s * 0.2))
        _sticker(rng, img, sx, sy, s)
    if rng.random() < 0.08:      # small sticker on the character area (lower corner)
        s = h * _u(rng, 0.1, 0.15)
        _sticker(rng, img, _pick_side(rng, w), h * _u(rng, 0.8, 0.95), s)
    if rng.random() < 0.45:
        img = _dirt(rng, img, _u(rng, 0.05, 0.45))
    if rng.random() < 0.3:
        img, mask = _dealer_frame(rng, img, mask, cjk, dealer_fonts)
    return img, mask


def _pick_side(rng, w):
    return w * (_u(rng, 0.03, 0.12) if rng.random() < 0.5 else _u(rng, 0.88, 0.97))


def _dealer_frame(rng, img, mask, cjk, dealer_fonts):
    h, w = img.shape[:2]
    t = int(h * _u(rng, 0.03, 0.08))
    s = int(h * _u(rng, 0.03, 0.07))
    b = int(h * _u(rng, 0.05, 0.22))
    H, W = h + t + b, w + 2 * s
    if rng.random() < 0.5:
        col = np.array([_u(rng, 10, 50)] * 3)              # black frame
    else:
        col = np.asarray(_sticker_colour(rng), float)
    if rng.random() < 0.3:
        col = np.array([_u(rng, 150, 230)] * 3)           # chrome / silver
    out = np.empty((H, W, 3), np.uint8)
    out[:] = col.astype(np.uint8)
    fm = _rounded_mask(W, H, int(h * 0.1))
    # plate inside the frame
    sub = out[t: t + h, s: s + w]
    a = mask[..., None].astype(np.float32) / 255
    sub[:] = (img * a + sub * (1 - a)).astype(np.uint8)
    if b > h * 0.08:
        ink = (255 - col).clip(0, 255) if rng.random() < 0.7 else np.array(rng.integers(0, 256, 3), float)
        ink = tuple(float(v) for v in ink)
        if cjk is not None and dealer_fonts and rng.random() < 0.8:
            k = dealer_fonts[int(rng.integers(len(dealer_fonts)))]
            n = int(rng.integers(2, 6))
            ch_h = int(b * _u(rng, 0.45, 0.75))
            x = s + int(_u(rng, 0.02, 0.3) * w)
            for _ in range(n):
                ch = DEALER_CHARS[int(rng.integers(len(DEALER_CHARS)))]
                m = cjk.mask(k, ch)
                g = cv2.resize(m, (ch_h, ch_h), interpolation=cv2.INTER_AREA)
                _paint(out, g, ink, x, t + h + (b - ch_h) // 2)
                x += int(ch_h * 1.1)
        else:
            x = s + int(_u(rng, 0.02, 0.3) * w)
        digits = "".join(str(int(rng.integers(10))) for _ in range(int(rng.integers(6, 9))))
        if rng.random() < 0.5:
            digits = f"({digits[:2]}){digits[2:]}"
        fs = b / 40.0
        cv2.putText(out, digits, (x + int(b * 0.3), t + h + int(b * 0.75)), cv2.FONT_HERSHEY_SIMPLEX,
                    fs, ink, max(1, int(fs * 2)), cv2.LINE_AA)
    return out, fm


# ------------------------------------------------------------------ background
def background(rng, w, h):
    """Muted, mostly dark surroundings: vehicle body, shadows, road, lamps."""
    level = _u(rng, 8, 90) if rng.random() < 0.75 else _u(rng, 90, 220)
    sat = _u(rng, 0.0, 0.3) if rng.random() < 0.93 else _u(rng, 0.3, 0.8)
    gx, gy = int(rng.integers(2, 7)), int(rng.integers(2, 7))
    hue = rng.random((gy, gx, 3)).astype(np.float32) * 2 - 1
    lum = rng.random((gy, gx, 1)).astype(np.float32) * 1.2 + 0.4
    small = level * lum * (1 + sat * hue)
    bg = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    bg = bg + rng.normal(0, _u(rng, 2, 14), (h, w, 1)).astype(np.float32)
    bg = np.clip(bg, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 4))):               # edges of the vehicle body, lamps
        c = tuple(float(v) for v in (_u(rng, 0, 200) * (1 + 0.3 * (rng.random(3) * 2 - 1))))
        p1 = (int(rng.integers(-w, 2 * w)), int(rng.integers(-h, 2 * h)))
        p2 = (int(rng.integers(-w, 2 * w)), int(rng.integers(-h, 2 * h)))
        cv2.line(bg, p1, p2, c, int(rng.integers(2, max(3, h // 4))), cv2.LINE_AA)
    return bg


# ------------------------------------------------------------------ geometry
def place(rng, img, mask, out_w_plate, severity):
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
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]]) - np.float32([pw / 2, ph / 2])
    # perspective: keystone in x and y, shear, per-corner jitter, rotation
    kx = rng.normal(0, 0.06 * severity + 0.01)
    ky = rng.normal(0, 0.05 * severity + 0.01)
    dst[:, 1] *= 1 + np.float32([-kx, kx, kx, -kx])
    dst[:, 0] *= 1 + np.float32([-ky, -ky, ky, ky])
    dst[:, 0] += dst[:, 1] * rng.normal(0, 0.05 * severity + 0.01)
    dst += rng.normal(0, (0.015 * severity + 0.003) * pw, (4, 2)).astype(np.float32)
    ang = np.deg2rad(np.clip(rng.normal(0, 2.5 + 4 * severity), -15, 15))
    rot = np.float32([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = dst @ rot.T
    x0, y0 = dst.min(0)
    x1, y1 = dst.max(0)
    bw, bh = x1 - x0, y1 - y0
    # crop margins relative to the plate height: mostly tight, sometimes loose or cut
    def margin(cut):
        r = rng.random()
        if r < 0.12:
            return _u(rng, -cut, 0.0)      # cut edge (the plate's rim, not the characters)
        if r < 0.85:
            return _u(rng, 0.0, 0.08)
        return _u(rng, 0.08, 0.35)         # loose crop
    ml, mr, mt, mb = (margin(c) * ph for c in (0.05, 0.05, 0.06, 0.015))
    W = int(round(bw + ml + mr))
    H = int(round(bh + mt + mb))
    W, H = max(W, 16), max(H, 8)
    dst = dst - np.float32([x0, y0]) + np.float32([ml, mt])
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(img, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpPerspective(mask, M, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    bg = background(rng, W, H)
    if rng.random() < 0.5:                                  # plate casts a slight shadow
        sh = cv2.GaussianBlur(a, (0, 0), max(1.0, 0.03 * ph))
        sh = np.roll(sh, (int(0.03 * ph), int(0.02 * ph)), (0, 1))
        bg = (bg.astype(np.float32) * (1 - 0.5 * sh[..., None] / 255.0)).astype(np.uint8)
    af = a.astype(np.float32)[..., None] / 255.0
    return (warped * af + bg * (1 - af)).astype(np.uint8)


# ------------------------------------------------------------------ photometric
def _lighting(rng, img, s):
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    if rng.random() < 0.6:                                  # linear lighting gradient
        ang = _u(rng, 0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        g = (xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang)
        amp = _u(rng, 0.1, 0.6) * s
        out *= (1 + amp * g)[..., None]
    if rng.random() < 0.3 * s + 0.05:                       # hard-edged shadow
        m = np.zeros((h, w), np.uint8)
        pts = np.stack([rng.uniform(-0.2, 1.2, 4) * w, rng.uniform(-0.2, 1.2, 4) * h], 1).astype(np.int32)
        cv2.fillConvexPoly(m, cv2.convexHull(pts), 255)
        m = cv2.GaussianBlur(m, (0, 0), _u(rng, 0.5, 0.05 * w + 1))
        out *= (1 - _u(rng, 0.25, 0.6) * m.astype(np.float32) / 255)[..., None]
    if rng.random() < 0.15 * s:                             # specular glare blob
        m = np.zeros((h, w), np.float32)
        cv2.circle(m, (int(rng.integers(w)), int(rng.integers(h))), int(_u(rng, 0.1, 0.4) * h), 1.0, -1)
        m = cv2.GaussianBlur(m, (0, 0), 0.2 * h + 1)
        out += (255 - out) * m[..., None] * _u(rng, 0.3, 0.8)
    gain = 1 + rng.normal(0, 0.04 * s + 0.015, 3)             # white balance
    contrast = _u(rng, 1 - 0.45 * s, 1 + 0.25 * s)
    bright = rng.normal(0, 18 * s + 3)
    out = (out * gain - 128) * contrast + 128 + bright
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3:
        gamma = _u(rng, 0.7, 1.4)
        out = 255 * (out / 255) ** gamma
    return out.astype(np.uint8)


def _motion_kernel(rng, length):
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1
    M = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), _u(rng, 0, 180), 1)
    k = cv2.warpAffine(k, M, (length, length))
    return k / max(k.sum(), 1e-6)


def _blur(rng, img, s, ref):
    r = rng.random()
    if r < 0.2 * s + 0.05:
        L = int(max(2, round(_u(rng, 0.02, 0.09) * ref * (0.4 + s))))
        return cv2.filter2D(img, -1, _motion_kernel(rng, L))
    if r < 0.55 * s + 0.15:
        sig = _u(rng, 0.3, 0.6 + 0.018 * ref * s)
        return cv2.GaussianBlur(img, (0, 0), sig)
    return img


def _lowres(rng, img, s):
    if rng.random() < 0.35 * s + 0.05:
        h, w = img.shape[:2]
        f = _u(rng, min(0.8, max(0.25, 1 - 0.75 * s)), 0.85)
        small = cv2.resize(img, (max(8, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=rng.choice([cv2.INTER_LINEAR, cv2.INTER_NEAREST,
                                                                    cv2.INTER_CUBIC]))
    return img


def _noise(rng, img, s):
    if rng.random() < 0.6 * s + 0.1:
        sig = _u(rng, 1, 4 + 10 * s)
        n = rng.normal(0, sig, img.shape[:2] + ((1,) if rng.random() < 0.5 else (3,)))
        return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)
    return img


def _jpeg(rng, img, s):
    if rng.random() < 0.5 * s + 0.1:
        q = int(_u(rng, min(85, max(15, 80 - 70 * s)), 90))
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img


def degrade(rng, img, s):
    ref = img.shape[0]
    img = _lighting(rng, img, s)
    img = _blur(rng, img, s, ref)
    img = _lowres(rng, img, s)
    img = _noise(rng, img, s)
    img = _jpeg(rng, img, s)
    return img


def severity(rng):
    """Per-image augmentation strength in [0, 1]; ~12% nearly clean."""
    if rng.random() < 0.12:
        return 0.03
    return float(np.clip(rng.beta(1.6, 2.2), 0.05, 1.0))


# ------------------------------------------------------------------ real crops
def augment(image_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """On-the-fly augmentation for (real or synthetic) plate crops.

    Mild geometry (small perspective / rotation, crop jitter of a few percent
    with replicated borders), on about a third of the crops a strong tilt (see
    ``tilt``), and photometric changes (lighting, shadow, colour
    cast, blur, low resolution, noise, JPEG) at a moderate strength, so the
    characters stay legible.  Returns a uint8 BGR image of about the input's
    size, or of its turned bounding box when tilted.
    """
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    if h < 4 or w < 4:
        return img.copy()
    s = float(np.clip(rng.beta(1.5, 3.0), 0.0, 0.7))
    if rng.random() < 0.7:
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        # crop jitter: each side moves in/out by up to ~4% of the width / 8% of the height
        jx = rng.uniform(-0.04, 0.02, 4) * w
        jy = rng.uniform(-0.08, 0.05, 4) * h
        dst = src + np.float32(np.stack([jx * [1, -1, -1, 1], jy * [1, 1, -1, -1]], 1))
        ang = np.deg2rad(rng.normal(0, 1.5))
        c = np.float32([w / 2, h / 2])
        rot = np.float32([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        dst = (dst - c) @ rot.T + c
        M = cv2.getPerspectiveTransform(dst.astype(np.float32), src)
        img = cv2.warpPerspective(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < TILT_PROB:
        img = tilt(img, rng)
    img = degrade(rng, img, s)
    return img


TILT_PROB = 0.35
TILT_MAX_DEG = 35.0


def tilt(image_bgr: np.ndarray, rng: np.random.Generator, max_deg: float = TILT_MAX_DEG) -> np.ndarray:
    """Rotate a crop by up to ``max_deg`` degrees (plus a little keystone) inside its new bounding box.

    Why: scooter plates hang tilted and roadside crops are axis-aligned boxes around them, so a
    real crop often holds a plate turned 10-40 degrees; the synthetic renders rarely go past 15.
    The canvas grows to hold the whole turned crop and its corners repeat the crop's border, as a
    detector's box around a tilted plate holds background there.
    """
    h, w = image_bgr.shape[:2]
    angle = float(rng.uniform(3.0, max_deg)) * (1 if rng.random() < 0.5 else -1)
    rad = np.deg2rad(angle)
    cos, sin = abs(np.cos(rad)), abs(np.sin(rad))
    new_w, new_h = int(round(w * cos + h * sin)), int(round(w * sin + h * cos))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    keystone = rng.normal(0.0, 0.04, (4, 2)) * np.float32([w, h])
    rot = np.float32([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]])
    dst = (src + keystone - np.float32([w / 2, h / 2])) @ rot.T + np.float32([new_w / 2, new_h / 2])
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(image_bgr, m, (new_w, new_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
