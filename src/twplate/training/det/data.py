"""Training photos for the plate detector, and the probability maps it learns.

Two sources, mixed per sample:

- **Real photos with their plates' boxes** (``data/scene_boxes.tsv``: photo, plate, the number line's
  4 corners, made by ``scripts/scene_boxes.py``). Each sample is the photo scaled so that one of its
  plates gets a number-line height drawn as for synthetic plates, cut to ``size`` x ``size`` around it.
- **Synthetic scenes**: twplate's synthetic plates (:mod:`twplate.training.synth`, every kind,
  special plates included) warped into a real photo or a made-up background with perspective
  (turned up to 50 degrees), scale, blur, low light and JPEG, beside
  plate-like text that is not a plate (camera date stamps, phone numbers, shop signs). The number
  line's corners go through the same warp. Number lines are 8 px to 0.3 x ``size`` tall, log-uniform,
  so far plates and close-ups are seen alike.

Only number lines are text here: the region banner above a 1992 number, date stamps, signs and any
other text of a photo are background, so the detector learns to box plates, not text in general
(``other_text="ignored"`` leaves the synthetic scenes' drawn text out of the loss instead).
The map a sample teaches is DBNet's: each number line shrunk by ``D = A (1 - r^2) / L``
(area ``A``, perimeter ``L``, ``r`` = 0.4) is 1, the rest 0; the inference post-processing grows
the found region back by the unclip ratio (:mod:`twplate.detect.postprocess`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from twplate.image import load_image

from ..augment import between, degrade, low_light
from ..synth.generate import Generator
from ..synth.kinds import KINDS
from ..synth.scene import background, decorate

SHRINK_RATIO = 0.4
MIN_LINE_HEIGHT = 8.0
MAX_LINE_HEIGHT = 0.3
MAX_LINE_WIDTH = 0.9
"""Number lines in samples are 8 px to 0.3 x the sample's side tall (log-uniform) and at most 0.9 x its side
wide. In the detector's input at a limit of 1280 px the shared photos' lines are 25 to 220 px tall (median 72;
the shipped limit is 1600); far plates in dash-cam frames are smaller."""
LINE_PAD = 0.06
"""A synthetic number line's box is its glyphs' box grown by this share of its height on every side: the
public detector's boxes around synthetic plates sit 0.04 (top), 0.10 (bottom), 0.05 (left and right)
glyph heights outside the glyphs (medians of 39 plates), and the real boxes are that detector's."""
MIN_TEXT_HEIGHT = 6.0
"""Number lines lower than this (input pixels) are neither text nor background: left out of the loss."""
CLUTTER = ("{y}/{m:02d}/{d:02d} {hh:02d}:{mm:02d}", "{y}-{m:02d}-{d:02d}", "TEL {a:02d}-{b:04d}-{c:04d}",
           "{a:02d}-{b:04d}", "NO.{a}", "OPEN 24H", "SALE {a}%", "PARKING", "{b:04d}", "EXIT", "{c}-{a}")


Sample = tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]


@dataclass(frozen=True)
class BoxedPhoto:
    """A photo and the 4 corners of each plate's number line (clockwise from top-left), in its pixels."""

    path: Path
    plates: tuple[str, ...]
    quads: tuple[np.ndarray, ...]


def read_box_file(path: str | Path, root: str | Path | None = None) -> list[BoxedPhoto]:
    """``photo TAB plate TAB x1,y1 x2,y2 x3,y3 x4,y4`` rows (photo relative to ``root``, default the file's folder)."""
    path = Path(path)
    base = Path(root) if root is not None else path.parent
    by_photo: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            photo, plate, corners = line.split("\t")
            quad = np.array([[float(v) for v in p.split(",")] for p in corners.split()], np.float32)
        except ValueError:
            raise ValueError(f"{path}:{n}: expected photo TAB plate TAB 4 corners 'x,y', got {line!r}") from None
        if quad.shape != (4, 2):
            raise ValueError(f"{path}:{n}: expected 4 corners, got {quad.shape[0]}")
        plates, quads = by_photo.setdefault(photo, ([], []))
        plates.append(plate)
        quads.append(quad)
    return [BoxedPhoto(base / photo, tuple(p), tuple(q)) for photo, (p, q) in by_photo.items()]


def shrink_quad(quad: np.ndarray, ratio: float = SHRINK_RATIO) -> np.ndarray | None:
    """A convex quad with each side moved inward by DBNet's ``A (1 - ratio^2) / L``; ``None`` if it vanishes."""
    quad = quad.astype(np.float64)
    area = abs(cv2.contourArea(quad.astype(np.float32)))
    perimeter = float(np.linalg.norm(quad - np.roll(quad, -1, 0), axis=1).sum())
    if area < 1 or perimeter < 1:
        return None
    distance = area * (1 - ratio**2) / perimeter
    sign = 1.0 if _signed_area(quad) > 0 else -1.0
    lines = []
    for a, b in zip(quad, np.roll(quad, -1, 0)):
        d = b - a
        normal = sign * np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)  # points inward
        lines.append((a + normal * distance, d))
    corners = []
    for (p1, d1), (p2, d2) in zip(np.roll(np.array(lines, dtype=object), 1, 0), lines):
        cross = d1[0] * d2[1] - d1[1] * d2[0]
        if abs(cross) < 1e-9:
            return None
        t = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / cross
        corners.append(p1 + t * d1)
    shrunk = np.array(corners, np.float32)
    if _signed_area(shrunk) * _signed_area(quad) <= 0:
        return None
    return shrunk


def _signed_area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def line_height(rng: np.random.Generator, size: int) -> float:
    """A number line's height in a ``size`` sample: log-uniform from 8 px (a far plate) to a close-up."""
    return float(np.exp(between(rng, np.log(MIN_LINE_HEIGHT), np.log(MAX_LINE_HEIGHT * size))))


def quad_width(quad: np.ndarray) -> float:
    """The quad's larger extent: the mean length of its two longer opposite sides."""
    sides = np.linalg.norm(quad - np.roll(quad, -1, 0), axis=1)
    return float(max(sides[0] + sides[2], sides[1] + sides[3]) / 2)


def quad_height(quad: np.ndarray) -> float:
    """The quad's smaller extent: the mean length of its two shorter opposite sides (a line's height)."""
    sides = np.linalg.norm(quad - np.roll(quad, -1, 0), axis=1)
    return float(min(sides[0] + sides[2], sides[1] + sides[3]) / 2)


def text_maps(shape: tuple[int, int], quads: Sequence[np.ndarray],
              ignored: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(target, weight)`` maps of ``shape``: target 1 inside each shrunk number line; weight 0 over
    ``ignored`` quads (plates cut by the sample's edge) and lines too small to learn, 1 elsewhere."""
    target = np.zeros(shape, np.float32)
    weight = np.ones(shape, np.float32)
    for quad in ignored:
        cv2.fillPoly(weight, [np.round(quad).astype(np.int32)], 0.0)
    for quad in quads:
        shrunk = shrink_quad(quad)
        if shrunk is None or quad_height(quad) < MIN_TEXT_HEIGHT:
            cv2.fillPoly(weight, [np.round(quad).astype(np.int32)], 0.0)
        else:
            cv2.fillPoly(target, [np.round(shrunk).astype(np.int32)], 1.0)
    return target, weight


class SceneSampler:
    """Endless ``(image, quads, ignored)`` training samples of ``size`` x ``size`` px from real and synthetic scenes.

    Args:
        photos: real photos with their plates' boxes (also the backgrounds of synthetic scenes).
        synthetic_share: share of samples that are synthetic scenes.
        size: side of each sample, a multiple of 32.
        glyphs: the glyph folder for the synthetic plates (``../shared/data/glyphs``).
        seed: the samples' random seed.
        other_text: what the synthetic scenes' plate-like text teaches: ``"background"`` (not a plate: the
            detector learns to leave it out) or ``"ignored"`` (neither, as a cut plate: the detector stays a
            text detector there and the plate rules decide).
    """

    def __init__(self, photos: Sequence[BoxedPhoto], synthetic_share: float, size: int,
                 glyphs: str | Path | None, seed: int, other_text: str = "background") -> None:
        self.other_text = other_text
        self.photos = list(photos)
        self.synthetic_share = synthetic_share
        self.size = size
        self.rng = np.random.default_rng(seed)
        if not self.photos and synthetic_share == 0:
            raise ValueError("no training photos and no synthetic scenes: give photos or a synthetic share above 0")
        # the plate renderer needs the glyph folder, so it loads only when synthetic scenes are asked for
        self.generator = Generator(glyphs, kinds=sorted(KINDS)) if synthetic_share > 0 else None
        self._images: dict[Path, np.ndarray] = {}

    def __iter__(self) -> Iterator[Sample]:
        while True:
            yield self.sample()

    def sample(self) -> Sample:
        """An image, its number lines' quads, and the quads of plates partly outside it (neither text nor not)."""
        rng = self.rng
        if self.generator is not None and (not self.photos or rng.random() < self.synthetic_share):
            return self._synthetic(rng, self.generator)
        return self._real(rng)

    def _photo(self, photo: BoxedPhoto) -> np.ndarray:
        if photo.path not in self._images:
            self._images[photo.path] = load_image(photo.path)
        return self._images[photo.path]

    def _scaled(self, rng: np.random.Generator, photo: BoxedPhoto) -> tuple[np.ndarray, list[np.ndarray], int]:
        """The photo scaled so one of its plates (the index returned) gets a number-line height drawn as for
        synthetic plates, and its plates' quads scaled with it."""
        image = self._photo(photo)
        h, w = image.shape[:2]
        chosen = int(rng.integers(len(photo.quads)))
        quad = photo.quads[chosen]
        scale = min(line_height(rng, self.size) / quad_height(quad), MAX_LINE_WIDTH * self.size / quad_width(quad))
        resized = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        return resized, [q * scale for q in photo.quads], chosen

    def _cut(self, rng: np.random.Generator, image: np.ndarray, quads: list[np.ndarray],
             around: np.ndarray | None) -> tuple[np.ndarray, list[np.ndarray]]:
        """A ``size`` square of ``image`` (padded where the image is smaller), holding ``around`` if given."""
        s = self.size
        h, w = image.shape[:2]
        if around is not None:
            cx, cy = around.mean(0)
            x0 = int(np.clip(cx - between(rng, 0.15, 0.85) * s, min(0, w - s), max(0, w - s)))
            y0 = int(np.clip(cy - between(rng, 0.15, 0.85) * s, min(0, h - s), max(0, h - s)))
        else:
            x0 = int(rng.integers(0, max(1, w - s + 1)))
            y0 = int(rng.integers(0, max(1, h - s + 1)))
        canvas = background(rng, s, s)
        xs, ys = max(0, x0), max(0, y0)
        part = image[ys : min(h, y0 + s), xs : min(w, x0 + s)]
        canvas[ys - y0 : ys - y0 + part.shape[0], xs - x0 : xs - x0 + part.shape[1]] = part
        return canvas, [q - np.array([x0, y0], np.float32) for q in quads]

    def _real(self, rng: np.random.Generator) -> Sample:
        photo = self.photos[int(rng.integers(len(self.photos)))]
        image, quads, chosen = self._scaled(rng, photo)
        image, quads = self._cut(rng, image, quads, quads[chosen] if rng.random() < 0.9 else None)
        if rng.random() < 0.3:
            image = low_light(image, rng)
        return image, *_split_cut(quads, self.size)

    def _synthetic(self, rng: np.random.Generator, generator: Generator) -> Sample:
        if self.photos and rng.random() < 0.6:
            image, quads, _ = self._scaled(rng, self.photos[int(rng.integers(len(self.photos)))])
            image, quads = self._cut(rng, image, quads, around=None)
        else:
            image, quads = background(rng, self.size, self.size), []
        for _ in range(int(rng.choice([1, 1, 2, 3]))):
            quad, alpha = _paste_plate(rng, image, generator)
            quads = [q for q in quads if not _covered(q, alpha)] + [quad]
        other_text = [_clutter(rng, image) for _ in range(int(rng.integers(0, 4)))]
        if rng.random() < 0.25:
            image = low_light(image, rng)
        image = degrade(rng, image, float(np.clip(rng.beta(1.4, 3.0), 0.03, 1.0)))
        inside, cut = _split_cut(quads, self.size)
        return image, inside, cut + (other_text if self.other_text == "ignored" else [])



def _paste_plate(rng: np.random.Generator, image: np.ndarray, generator: Generator) -> tuple[np.ndarray, np.ndarray]:
    """Warp a synthetic plate into the square ``image``: the warped corners of its number line and the
    plate's coverage ``(size, size, 1)`` in ``[0, 1]``."""
    kind = generator.kinds[int(rng.choice(len(generator.kinds), p=generator.p))]
    _, plate = KINDS[kind](generator.renderer, rng)
    flat, mask = decorate(rng, plate, generator.cjk, generator.dealer_fonts)
    ph, pw = flat.shape[:2]
    s = image.shape[0]
    glyphs_x0, glyphs_y0, glyphs_x1, glyphs_y1 = plate.char_area
    line_h = glyphs_y1 - glyphs_y0
    pad = LINE_PAD * line_h
    x0, y0, x1, y1 = glyphs_x0 - pad, glyphs_y0 - pad, glyphs_x1 + pad, glyphs_y1 + pad
    width = min(pw * line_height(rng, s) / line_h, MAX_LINE_WIDTH * s * pw / (glyphs_x1 - glyphs_x0 + 2 * pad))
    yaw = np.radians(between(rng, -50, 50) if rng.random() < 0.5 else between(rng, -15, 15))
    roll = np.radians(float(np.clip(rng.normal(0, 6), -20, 20)))
    half = np.array([width, width * ph / pw], np.float32) / 2
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * half
    corners[:, 0] *= np.cos(yaw)
    near = 1 + 0.35 * np.sin(abs(yaw))  # the nearer side looks taller
    side = np.array([1, -1, -1, 1], np.float32) if yaw > 0 else np.array([-1, 1, 1, -1], np.float32)
    corners[:, 1] *= np.where(side > 0, near, 1 / near)
    corners += rng.normal(0, 0.02, (4, 2)).astype(np.float32) * half * 2
    rotation = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]], np.float32)
    centre = np.array([between(rng, 0.1, 0.9) * s, between(rng, 0.1, 0.9) * s], np.float32)
    quad = corners @ rotation.T + centre
    matrix = cv2.getPerspectiveTransform(np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32), quad)
    lit = np.clip(flat.astype(np.float32) * between(rng, 0.45, 1.15) + between(rng, -25, 25), 0, 255)
    warped = cv2.warpPerspective(lit.astype(np.uint8), matrix, (s, s), flags=cv2.INTER_AREA)
    alpha = cv2.warpPerspective(mask, matrix, (s, s), flags=cv2.INTER_LINEAR).astype(np.float32)[..., None] / 255
    image[:] = (warped * alpha + image * (1 - alpha)).astype(np.uint8)
    line = cv2.perspectiveTransform(np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float32), matrix)[0]
    return line, alpha


def _split_cut(quads: list[np.ndarray], size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Number lines wholly inside a ``size`` square, and those its edge cuts (a cut plate is learnt as neither)."""
    inside = [q for q in quads if (q >= 0).all() and (q < size).all()]
    cut = [q for q in quads if not ((q >= 0).all() and (q < size).all())]
    return inside, cut


def _covered(quad: np.ndarray, alpha: np.ndarray) -> bool:
    """Whether a pasted plate hides the middle of ``quad``."""
    x, y = np.round(quad.mean(0)).astype(int)
    return 0 <= y < alpha.shape[0] and 0 <= x < alpha.shape[1] and alpha[y, x, 0] > 0.5


def _clutter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Draw plate-like text that is not a plate (a date stamp, a phone or house number, sign words); its quad."""
    template = CLUTTER[int(rng.integers(len(CLUTTER)))]
    text = template.format(y=int(rng.integers(2015, 2027)), m=int(rng.integers(1, 13)), d=int(rng.integers(1, 29)),
                           hh=int(rng.integers(0, 24)), mm=int(rng.integers(0, 60)), a=int(rng.integers(1, 99)),
                           b=int(rng.integers(0, 9999)), c=int(rng.integers(100, 9999)))
    stamp = rng.random() < 0.4
    colour = (0, 140, 255) if stamp else tuple(int(v) for v in rng.integers(0, 256, 3))
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN]))
    scale = between(rng, 0.5, 2.2)
    (tw, th), _ = cv2.getTextSize(text, font, scale, 2)
    s = image.shape[0]
    x = int(rng.integers(0, max(1, s - tw)))
    y = int(rng.integers(th + 2, max(th + 3, s - 2)))
    if not stamp and rng.random() < 0.5:  # a sign panel behind the words
        panel = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.rectangle(image, (x - 6, y - th - 6), (x + tw + 6, y + 8), panel, -1)
    cv2.putText(image, text, (x, y), font, scale, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
    return np.array([[x, y - th - 4], [x + tw, y - th - 4], [x + tw, y + 6], [x, y + 6]], np.float32)
