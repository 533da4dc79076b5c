"""Augmentations for plate crops: what training applies to real (and synthetic) crops on the fly.

``augment`` is the per-crop augmentation (``Data.augment_prob``); ``tilt`` turns a crop strongly in
its plane, ``turn`` about its vertical axis (up to 45 degrees); ``occlude`` hides part of one
character; ``low_light`` darkens it with a sensor's noise; ``far`` shrinks it to a far plate's few
pixels; ``degrade`` is the photometric part,
which the synthetic generator's scenes reuse. Only numpy and OpenCV: importing this module loads no
fonts and no generator.
"""

from __future__ import annotations

import cv2
import numpy as np

from twplate.image import array_to_bgr

TILT_PROB = 0.35
TILT_MAX_DEG = 35.0
TURN_PROB = 0.15
TURN_MAX_DEG = 45.0
OCCLUDE_PROB = 0.1
LOW_LIGHT_PROB = 0.1
FAR_HEIGHT_PX = (14, 30)


def between(rng: np.random.Generator, a: float, b: float) -> float:
    """A uniform draw between ``a`` and ``b``, in whichever order they come."""
    return float(rng.uniform(min(a, b), max(a, b)))


def _lighting(rng: np.random.Generator, img: np.ndarray, s: float) -> np.ndarray:
    """Lighting gradient, hard shadow, glare, white balance, contrast, brightness and gamma."""
    h, w = img.shape[:2]
    out: np.ndarray = img.astype(np.float32)
    if rng.random() < 0.6:                                  # linear lighting gradient
        ang = between(rng, 0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        g = (xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang)
        amp = between(rng, 0.1, 0.6) * s
        out *= (1 + amp * g)[..., None]
    if rng.random() < 0.3 * s + 0.05:                       # hard-edged shadow
        m: np.ndarray = np.zeros((h, w), np.uint8)
        pts = np.stack([rng.uniform(-0.2, 1.2, 4) * w, rng.uniform(-0.2, 1.2, 4) * h], 1).astype(np.int32)
        cv2.fillConvexPoly(m, cv2.convexHull(pts), 255)
        m = cv2.GaussianBlur(m, (0, 0), between(rng, 0.5, 0.05 * w + 1))
        out *= (1 - between(rng, 0.25, 0.6) * m.astype(np.float32) / 255)[..., None]
    if rng.random() < 0.15 * s:                             # specular glare blob
        m = np.zeros((h, w), np.float32)
        cv2.circle(m, (int(rng.integers(w)), int(rng.integers(h))), int(between(rng, 0.1, 0.4) * h), 1.0, -1)
        m = cv2.GaussianBlur(m, (0, 0), 0.2 * h + 1)
        out += (255 - out) * m[..., None] * between(rng, 0.3, 0.8)
    gain = 1 + rng.normal(0, 0.04 * s + 0.015, 3)             # white balance
    contrast = between(rng, 1 - 0.45 * s, 1 + 0.25 * s)
    bright = rng.normal(0, 18 * s + 3)
    out = (out * gain - 128) * contrast + 128 + bright
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3:
        gamma = between(rng, 0.7, 1.4)
        out = 255 * (out / 255) ** gamma
    return out.astype(np.uint8)


def _motion_kernel(rng: np.random.Generator, length: int) -> np.ndarray:
    k: np.ndarray = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1
    M = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), between(rng, 0, 180), 1)
    k = cv2.warpAffine(k, M, (length, length))
    return k / max(k.sum(), 1e-6)


def _blur(rng: np.random.Generator, img: np.ndarray, s: float, ref: int) -> np.ndarray:
    """Motion or defocus blur, scaled by ``ref`` (the image height)."""
    r = rng.random()
    if r < 0.2 * s + 0.05:
        L = int(max(2, round(between(rng, 0.02, 0.09) * ref * (0.4 + s))))
        return cv2.filter2D(img, -1, _motion_kernel(rng, L))
    if r < 0.55 * s + 0.15:
        sig = between(rng, 0.3, 0.6 + 0.018 * ref * s)
        return cv2.GaussianBlur(img, (0, 0), sig)
    return img


def _lowres(rng: np.random.Generator, img: np.ndarray, s: float) -> np.ndarray:
    if rng.random() < 0.35 * s + 0.05:
        h, w = img.shape[:2]
        f = between(rng, min(0.8, max(0.25, 1 - 0.75 * s)), 0.85)
        small = cv2.resize(img, (max(8, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=rng.choice([cv2.INTER_LINEAR, cv2.INTER_NEAREST,
                                                                    cv2.INTER_CUBIC]))
    return img


def _noise(rng: np.random.Generator, img: np.ndarray, s: float) -> np.ndarray:
    if rng.random() < 0.6 * s + 0.1:
        sig = between(rng, 1, 4 + 10 * s)
        n = rng.normal(0, sig, img.shape[:2] + ((1,) if rng.random() < 0.5 else (3,)))
        return np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)
    return img


def _as_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """``img`` saved as a JPEG of ``quality`` and decoded again (``img`` itself if encoding fails)."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return decoded if decoded is not None else img


def _jpeg(rng: np.random.Generator, img: np.ndarray, s: float) -> np.ndarray:
    if rng.random() < 0.5 * s + 0.1:
        return _as_jpeg(img, int(between(rng, min(85, max(15, 80 - 70 * s)), 90)))
    return img


def degrade(rng: np.random.Generator, img: np.ndarray, s: float) -> np.ndarray:
    """Photometric degradations of a BGR crop at strength ``s`` in [0, 1]: lighting, blur, low
    resolution, noise, JPEG; each drawn with a probability that grows with ``s``."""
    ref = img.shape[0]
    img = _lighting(rng, img, s)
    img = _blur(rng, img, s, ref)
    img = _lowres(rng, img, s)
    img = _noise(rng, img, s)
    img = _jpeg(rng, img, s)
    return img


def augment(image_bgr: np.ndarray, rng: np.random.Generator, tilt_max_deg: float = TILT_MAX_DEG,
            far_prob: float = 0.0) -> np.ndarray:
    """On-the-fly augmentation for (real or synthetic) plate crops.

    Mild geometry (small perspective / rotation, crop jitter of a few percent
    with replicated borders), on about a third of the crops a strong tilt of up to
    ``tilt_max_deg`` degrees (see ``tilt``) or else now and then a turn seen from the side (``turn``), on one in ten
    part of a character hidden (``occlude``), photometric changes (lighting, shadow, colour
    cast, blur, low resolution, noise, JPEG) at a moderate strength, so the characters stay
    legible, on one in ten night light (``low_light``), and on a share ``far_prob`` a far plate's
    few pixels (``far``). Returns a uint8 BGR image of about the input's size (or of its turned
    bounding box when tilted or turned), or of a far plate's size; grayscale and BGRA crops are
    converted as :func:`twplate.image.array_to_bgr` does.
    """
    img = array_to_bgr(np.asarray(image_bgr))
    h, w = img.shape[:2]
    if h < 4 or w < 4:
        return img.copy()
    s = float(np.clip(rng.beta(1.5, 3.0), 0.0, 0.7))
    if rng.random() < 0.7:
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        # crop jitter: each side moves in/out by up to ~4% of the width / 8% of the height
        jx = rng.uniform(-0.04, 0.02, 4) * w
        jy = rng.uniform(-0.08, 0.05, 4) * h
        dst: np.ndarray = src + np.stack([jx * [1, -1, -1, 1], jy * [1, 1, -1, -1]], 1).astype(np.float32)
        ang = np.deg2rad(rng.normal(0, 1.5))
        c = np.array([w / 2, h / 2], np.float32)
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
        dst = (dst - c) @ rot.T + c
        M = cv2.getPerspectiveTransform(dst.astype(np.float32), src)
        img = cv2.warpPerspective(img, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < TILT_PROB:
        img = tilt(img, rng, tilt_max_deg)
    elif rng.random() < TURN_PROB:
        img = turn(img, rng)
    if rng.random() < OCCLUDE_PROB:
        img = occlude(img, rng)
    img = degrade(rng, img, s)
    if rng.random() < LOW_LIGHT_PROB:
        img = low_light(img, rng)
    if far_prob and rng.random() < far_prob:
        img = far(img, rng)
    return img


def far(image_bgr: np.ndarray, rng: np.random.Generator, height_px: tuple[int, int] = FAR_HEIGHT_PX) -> np.ndarray:
    """The crop as a far plate gives it: shrunk to ``height_px`` pixels tall and saved as a JPEG
    (``shrink``, at a height and a quality drawn here).

    Why: a plate 10-15 px tall in a dash-cam frame gives a crop of 14-30 px with its margins, which
    the recognizer enlarges to its input height; the real crops are 130-390 px tall. The small
    image is returned as it is, so training enlarges it with the very resize that reading does.
    """
    height = int(rng.integers(height_px[0], height_px[1] + 1))
    if height >= image_bgr.shape[0]:  # a crop already that small stays as it is, and draws no JPEG quality
        return image_bgr
    return shrink(image_bgr, height, int(rng.integers(35, 91)))


def shrink(image_bgr: np.ndarray, height: int, jpeg_quality: int | None = None) -> np.ndarray:
    """``image_bgr`` shrunk to ``height`` pixels tall at its aspect (area interpolation, as a camera's
    pixels average the light), then saved as a JPEG of ``jpeg_quality`` if given. An image no taller
    than ``height`` is returned as it is."""
    h, w = image_bgr.shape[:2]
    if height >= h:
        return image_bgr
    small = cv2.resize(image_bgr, (max(4, int(round(w * height / h))), height), interpolation=cv2.INTER_AREA)
    return small if jpeg_quality is None else _as_jpeg(small, jpeg_quality)


def turn(image_bgr: np.ndarray, rng: np.random.Generator, max_deg: float = TURN_MAX_DEG) -> np.ndarray:
    """The plate seen from one side: turned by up to ``max_deg`` degrees about its vertical axis.

    The width shrinks by the angle's cosine and the far edge is shorter than the near one (by up to a
    fifth at 45 degrees: a camera a few plate widths away); the crop is the turned plate's bounding
    box, as a detector's.
    """
    h, w = image_bgr.shape[:2]
    rad = np.deg2rad(float(rng.uniform(10.0, max_deg)))
    new_w = max(4, int(round(w * np.cos(rad))))
    inset = 0.3 * np.sin(rad) * h / 2                               # the far edge's shortening, each end
    dst = np.array([[0, 0], [new_w, inset], [new_w, h - inset], [0, h]], np.float32)
    if rng.random() < 0.5:                                          # the far side on the left
        dst = np.array([[0, inset], [new_w, 0], [new_w, h], [0, h - inset]], np.float32)
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image_bgr, m, (new_w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlude(image_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Part of one character hidden by a bracket, a screw head or a sticker.

    A plate holds 5-8 characters across its middle; one character cell is drawn, and a bar (a frame
    bracket, from the top or bottom edge) or a blob (a sticker) covers 25-50% of it in a flat dark,
    grey or white, so the character stays readable from what is left.
    """
    out = image_bgr.copy()
    h, w = out.shape[:2]
    cells = int(rng.integers(5, 9))
    cell_w = 0.9 * w / cells
    x0 = 0.05 * w + cell_w * int(rng.integers(cells))
    grey = int(rng.choice([25, 128, 235]))                         # a dark bracket, a grey screw, a white sticker
    colour = tuple(int(np.clip(grey + d, 0, 255)) for d in rng.integers(-15, 16, 3))
    if rng.random() < 0.5:                                          # a bracket from the top or bottom
        depth = between(rng, 0.25, 0.5) * 0.7 * h
        y0 = 0.15 * h if rng.random() < 0.5 else 0.85 * h - depth
        cv2.rectangle(out, (int(x0 - 0.1 * cell_w), int(y0)), (int(x0 + 1.1 * cell_w), int(y0 + depth)), colour, -1)
    else:                                                           # a round sticker or screw head
        centre = (int(x0 + between(rng, 0.2, 0.8) * cell_w), int(between(rng, 0.3, 0.7) * h))
        cv2.circle(out, centre, max(1, int(between(rng, 0.3, 0.45) * cell_w)), colour, -1)
    return out


def low_light(image_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Night: the crop darkened 3-8 times, then a sensor's noise, strongest where it is darkest
    (shot noise grows with the square root of the light; read noise is flat) and in colour."""
    dark = image_bgr.astype(np.float32) * between(rng, 0.12, 0.35)
    shot = rng.normal(0.0, 1.0, dark.shape) * np.sqrt(dark) * between(rng, 0.5, 1.5)
    read = rng.normal(0.0, between(rng, 1.5, 5.0), dark.shape[:2] + (1,))
    return np.clip(dark + shot + read, 0, 255).astype(np.uint8)


def tilt(image_bgr: np.ndarray, rng: np.random.Generator, max_deg: float = TILT_MAX_DEG) -> np.ndarray:
    """Rotate a crop by up to ``max_deg`` degrees (plus a little keystone) inside its new bounding box.

    Why: scooter plates hang tilted and roadside crops are axis-aligned boxes around them, so a
    real crop often holds a plate turned 10-40 degrees; the synthetic renders rarely go past 15.
    The canvas grows to hold the whole turned crop and its corners repeat the crop's border, as a
    detector's box around a tilted plate holds background there.
    """
    h, w = image_bgr.shape[:2]
    angle = float(rng.uniform(min(3.0, max_deg), max_deg)) * (1 if rng.random() < 0.5 else -1)
    rad = np.deg2rad(angle)
    cos, sin = abs(np.cos(rad)), abs(np.sin(rad))
    new_w, new_h = int(round(w * cos + h * sin)), int(round(w * sin + h * cos))
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    keystone = rng.normal(0.0, 0.04, (4, 2)) * np.array([w, h], np.float32)
    rot = np.array([[np.cos(rad), np.sin(rad)], [-np.sin(rad), np.cos(rad)]], np.float32)
    dst = (src + keystone - np.array([w / 2, h / 2], np.float32)) @ rot.T + np.array([new_w / 2, new_h / 2], np.float32)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(image_bgr, m, (new_w, new_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
