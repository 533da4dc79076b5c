"""Glyph sources for the synthetic plate generator.

* Latin letters and digits come from a *glyph folder* (``--glyphs``; default
  ``$TWPLATE_GLYPHS`` or ``../shared/data/glyphs``): ``plates_2014/characters``
  (2014 plate font), ``official_2012_solid`` (the Highway Bureau's 2012 solid
  font) and ``plates_1992/characters`` (1992 plate font), plus the 1992 region
  banners in ``plates_1992/region``.  A character missing from the folder is
  drawn with a TrueType fallback (DejaVu Sans Condensed Bold or any sans font
  fontconfig offers), so a partial folder still works.
* CJK characters (試 使 外 軍 領 臨, 電動車, dealer-frame text) come from a
  TrueType/OpenType font: ``--font PATH`` (several joined with ``:``), else
  ``$TWPLATE_CJK_FONT``, else every font fontconfig reports for ``zh-tw``
  (``fc-list :lang=zh-tw``), else a scan of ``/usr/share/fonts`` and
  ``/usr/local/share/fonts`` for well-known CJK families.  On Debian/Ubuntu
  ``apt-get install fonts-arphic-ukai fonts-wqy-zenhei`` gives a Kai (brush)
  face like the characters on real special plates and a sans face.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

LATIN = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GLYPH_SETS = {
    "2014": ("plates_2014/characters", (".png", ".jpg")),
    "2012": ("official_2012_solid", (".jpg", ".png")),
    "1992": ("plates_1992/characters", (".png", ".jpg")),
}
REGIONS = ("taibeishi", "gaoxiongshi", "taiwansheng", "jinmenxian", "lianjiangxian")
CJK_HINT = (
    "install a CJK font (Debian/Ubuntu: `apt-get install fonts-arphic-ukai` "
    "or `fonts-wqy-zenhei` / `fonts-noto-cjk`) or pass --font PATH to a "
    "TrueType/OpenType font that has it"
)


class SynthError(RuntimeError):
    """A problem with the generator's inputs, with a message for the user."""


def default_glyph_dir() -> Path:
    env = os.environ.get("TWPLATE_GLYPHS")
    return Path(env) if env else Path("..") / "shared" / "data" / "glyphs"


def _tight(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask > 60)
    if len(ys) == 0:
        return mask
    return mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def _read_mask(path: Path) -> np.ndarray:
    """Glyph image (dark on light) -> uint8 ink mask, cropped to the ink."""
    im = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_GRAYSCALE)
    if im is None:
        raise SynthError(f"cannot read glyph image {path}")
    # Some glyph files have a dark frame or dark corners (scan artefacts): flood
    # from the border would be overkill; instead threshold and keep the largest
    # ink area inside a 2 px inset.
    ink = 255 - im
    ink[:2, :] = 0
    ink[-2:, :] = 0
    ink[:, :2] = 0
    ink[:, -2:] = 0
    ink = np.clip((ink.astype(np.int32) - 40) * 255 // 175, 0, 255).astype(np.uint8)
    return _tight(ink)


def _font_candidates_fc() -> list[tuple[str, int]]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh-tw", "file", "index"],
            capture_output=True, text=True, timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        idx = 0
        if "index=" in rest:
            try:
                idx = int(rest.split("index=")[1].split(":")[0].strip())
            except ValueError:
                idx = 0
        found.append((path.strip(), idx))
    return sorted(set(found))


_CJK_NAME_HINTS = ("cjk", "wqy", "ukai", "uming", "droidsansfallback", "han", "ming", "kai",
                   "hei", "song", "gothic", "noto")


def _font_candidates_scan() -> list[tuple[str, int]]:
    found = []
    for root in ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.fonts"),
                 "/System/Library/Fonts", "C:/Windows/Fonts"):
        for ext in ("ttf", "ttc", "otf", "otc"):
            for p in glob.glob(os.path.join(root, "**", f"*.{ext}"), recursive=True):
                if any(h in os.path.basename(p).lower() for h in _CJK_NAME_HINTS):
                    for i in range(4 if ext in ("ttc", "otc") else 1):
                        found.append((p, i))
    return sorted(set(found))


def _load_font(path: str, index: int, size: int = 96) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError:
        return None


def font_has(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    """True when ``font`` draws ``ch`` with a real glyph (not .notdef/empty)."""
    m = font.getmask(ch)
    if m.getbbox() is None:
        return False
    notdef = font.getmask("\U0010fffd")
    return not (m.size == notdef.size and bytes(m) == bytes(notdef))


class CJKFonts:
    """The CJK fonts in use and a cache of rendered CJK glyph masks."""

    def __init__(self, font: str | None = None):
        self.explicit = font
        self.fonts: list[tuple[str, int, ImageFont.FreeTypeFont]] = []
        if font:
            for p in str(font).split(os.pathsep):
                if not p:
                    continue
                if not Path(p).is_file():
                    raise SynthError(f"--font {p}: no such font file")
                for i in range(4):
                    f = _load_font(p, i)
                    if f is None:
                        if i == 0:
                            raise SynthError(f"--font {p}: not a TrueType/OpenType font")
                        break
                    self.fonts.append((p, i, f))
                    if not p.lower().endswith((".ttc", ".otc")):
                        break
        else:
            env = os.environ.get("TWPLATE_CJK_FONT")
            cands = [(env, 0)] if env and Path(env).is_file() else []
            cands += _font_candidates_fc() or _font_candidates_scan()
            seen = set()
            for p, i in cands:
                if (p, i) in seen:
                    continue
                seen.add((p, i))
                f = _load_font(p, i)
                if f is not None and font_has(f, "車"):
                    self.fonts.append((p, i, f))
        self._cache: dict[tuple[int, str], np.ndarray] = {}
        self._has: dict[str, list[int]] = {}

    def describe(self) -> str:
        return ", ".join(f"{Path(p).name}#{i}" for p, i, _ in self.fonts) or "none"

    def fonts_for(self, text: str) -> list[int]:
        """Indices of the fonts that have every character of ``text`` (cached)."""
        hit = self._has.get(text)
        if hit is None:
            hit = [k for k, (_, _, f) in enumerate(self.fonts)
                   if all(font_has(f, c) for c in text if not c.isspace())]
            self._has[text] = hit
        return hit

    def require(self, text: str, why: str) -> None:
        for ch in dict.fromkeys(text):
            if ch.isspace():
                continue
            if not any(font_has(f, ch) for _, _, f in self.fonts):
                where = (f"the font(s) given with --font ({self.describe()})" if self.explicit
                         else f"the CJK fonts found on this system ({self.describe()})")
                raise SynthError(
                    f"cannot render CJK glyph '{ch}' (U+{ord(ch):04X}) needed for {why}: "
                    f"{where} lack it; {CJK_HINT}"
                )

    def mask(self, k: int, ch: str) -> np.ndarray:
        key = (k, ch)
        m = self._cache.get(key)
        if m is None:
            font = self.fonts[k][2]
            img = Image.new("L", (140, 140), 0)
            ImageDraw.Draw(img).text((20, 10), ch, fill=255, font=font)
            m = _tight(np.asarray(img))
            self._cache[key] = m
        return m


class GlyphSource:
    """Latin glyph masks from the glyph folder (with TrueType fallback) and region banners."""

    def __init__(self, glyph_dir: str | os.PathLike | None):
        gd = Path(glyph_dir) if glyph_dir else default_glyph_dir()
        if not gd.is_dir():
            raise SynthError(
                f"glyph folder not found: {gd} (pass --glyphs DIR or set TWPLATE_GLYPHS; it must "
                f"hold plates_2014/characters, official_2012_solid and plates_1992/characters "
                f"with one image per character 0-9 A-Z)"
            )
        self.dir = gd
        self.sets: dict[str, dict[str, np.ndarray]] = {}
        total = 0
        for name, (sub, exts) in GLYPH_SETS.items():
            d = gd / sub
            chars = {}
            for ch in LATIN:
                for ext in exts:
                    p = d / f"{ch}{ext}"
                    if p.is_file():
                        chars[ch] = _read_mask(p)
                        break
            self.sets[name] = chars
            total += len(chars)
        self._drop_duplicates()
        if total == 0:
            raise SynthError(
                f"glyph folder {gd} has no character images: expected e.g. "
                f"{gd / 'plates_2014/characters/A.png'} (pass --glyphs DIR or set TWPLATE_GLYPHS)"
            )
        self._fallback_font: ImageFont.FreeTypeFont | None = None
        self.regions: dict[str, np.ndarray] = {}
        for r in REGIONS:
            p = gd / "plates_1992" / "region" / f"{r}.png"
            if p.is_file():
                im = cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_GRAYSCALE)
                if im is not None:
                    ink = np.clip((200 - im.astype(np.int32)) * 2, 0, 255).astype(np.uint8)
                    self.regions[r] = ink

    def _drop_duplicates(self) -> None:
        """Remove glyph files that are copies of another character's glyph.

        (The 1992 set ships ``4.png`` as a copy of ``3``.)  Of a duplicate pair the
        one that looks less like the same character in the other sets is dropped,
        so it falls back to another style instead of teaching a wrong label.
        """
        def norm(m: np.ndarray) -> np.ndarray:
            return cv2.resize(m, (24, 48), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

        for name, chars in self.sets.items():
            keys = sorted(chars)
            normed = {c: norm(chars[c]) for c in keys}
            bad = set()
            for i, a in enumerate(keys):
                for b in keys[i + 1:]:
                    if {a, b} in ({"0", "O"}, {"1", "I"}):
                        continue  # old plates draw O like 0 and I like 1 on purpose
                    if np.abs(normed[a] - normed[b]).mean() < 0.04:
                        def score(c: str, name: str = name, normed: dict[str, np.ndarray] = normed) -> float:
                            refs = [norm(s[c]) for n, s in self.sets.items() if n != name and c in s]
                            return max((-np.abs(normed[c] - r).mean() for r in refs), default=0.0)
                        bad.add(a if score(a) < score(b) else b)
            for c in bad:
                del chars[c]

    def _fallback(self) -> ImageFont.FreeTypeFont:
        if self._fallback_font is None:
            paths = glob.glob("/usr/share/fonts/**/DejaVuSansCondensed-Bold.ttf", recursive=True)
            if not paths and shutil.which("fc-match"):
                try:
                    p = subprocess.run(["fc-match", "-f", "%{file}", "sans:bold"],
                                       capture_output=True, text=True, timeout=20).stdout.strip()
                    paths = [p] if p else []
                except (OSError, subprocess.SubprocessError):
                    paths = []
            if not paths:
                raise SynthError("a Latin glyph is missing from the glyph folder and no TrueType "
                                 "fallback font (DejaVu Sans) is installed; pass a complete --glyphs DIR")
            self._fallback_font = ImageFont.truetype(paths[0], 96)
        return self._fallback_font

    def mask(self, style: str, ch: str) -> np.ndarray:
        """Ink mask of Latin ``ch`` in glyph style '2014', '2012' or '1992'."""
        chars = self.sets.get(style, {})
        m = chars.get(ch)
        if m is None:
            for alt in ("2014", "2012", "1992"):
                if ch in self.sets.get(alt, {}):
                    m = self.sets[alt][ch]
                    break
        if m is None:
            img = Image.new("L", (120, 130), 0)
            ImageDraw.Draw(img).text((10, 5), ch, fill=255, font=self._fallback())
            m = _tight(np.asarray(img))
            chars[ch] = m
        return m
