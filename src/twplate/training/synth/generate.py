"""Dataset generation (``generate``) and the ``twplate synth`` command line."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ..augment import degrade
from .fonts import CJKFonts, GlyphSource, SynthError, default_glyph_dir
from .kinds import CJK_NEEDED, KINDS, WEIGHTS, parse_kinds
from .render import Renderer
from .scene import DEALER_CHARS, decorate, place, severity

MAX_WIDTH = 320   # the real crops are re-encoded at most 320 px wide
JPEG_QUALITY = 90

_STATE: dict = {}


class Generator:
    """Everything one process needs to render samples (glyphs, fonts, kinds)."""

    def __init__(self, glyph_dir: str | os.PathLike[str] | None = None, font: str | None = None,
                 kinds: str | Sequence[str] | None = None) -> None:
        self.kinds = parse_kinds(kinds)
        self.glyphs = GlyphSource(glyph_dir)
        self.cjk = CJKFonts(font)
        for k in self.kinds:
            if k in CJK_NEEDED:
                self.cjk.require(CJK_NEEDED[k], f"plate kind '{k}'")
        self.dealer_fonts = self.cjk.fonts_for(DEALER_CHARS)
        self.renderer = Renderer(self.glyphs, self.cjk)
        w = np.array([WEIGHTS[k] for k in self.kinds], float)
        self.p = w / w.sum()

    def sample(self, seed: int, index: int, kind: str | None = None) -> tuple[str, np.ndarray, str]:
        """Render sample ``index`` of the dataset with ``seed``: (label, BGR image, kind)."""
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index)])
        if kind is None:
            kind = self.kinds[int(rng.choice(len(self.kinds), p=self.p))]
        label, plate = KINDS[kind](self.renderer, rng)
        img, mask = decorate(rng, plate, self.cjk, self.dealer_fonts)
        s = severity(rng)
        r = rng.random()
        if r < 0.65:
            pw = rng.uniform(200, 310)
        elif r < 0.9:
            pw = rng.uniform(120, 200)
        else:
            pw = rng.uniform(64, 120)
        crop = place(rng, img, mask, pw, s)
        crop = degrade(rng, crop, s)
        # the real crops are (re-)encoded 320 px wide, small ones upscaled: do the same
        # for most images, keep the native size for the rest
        if crop.shape[1] > MAX_WIDTH or rng.random() < 0.9:
            f = MAX_WIDTH / crop.shape[1]
            interp = cv2.INTER_AREA if f < 1 else (cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR)
            crop = cv2.resize(crop, (MAX_WIDTH, max(8, int(round(crop.shape[0] * f)))), interpolation=interp)
        return label, crop, kind


def _init_worker(glyph_dir: Path, font: str | None, kinds: list[str]) -> None:
    cv2.setNumThreads(1)
    _STATE["gen"] = Generator(glyph_dir, font, kinds)


def _work(job: tuple[int, int, int, str, int]) -> list[tuple[int, str, str]]:
    seed, start, stop, img_dir, width = job
    gen: Generator = _STATE["gen"]
    out: list[tuple[int, str, str]] = []
    for i in range(start, stop):
        label, img, _ = gen.sample(seed, i)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise SynthError(f"JPEG encoding failed for image {i}")
        name = f"{i:0{width}d}.jpg"
        buf.tofile(os.path.join(img_dir, name))
        out.append((i, f"images/{name}", label))
    return out


def generate(out_dir: str | os.PathLike[str], count: int, seed: int = 0,
             glyph_dir: str | os.PathLike[str] | None = None, font: str | None = None, workers: int = 2,
             kinds: str | Sequence[str] | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Render ``count`` synthetic plates into ``out_dir``; return the label file path.

    Writes ``out_dir/images/000000.jpg``... and ``out_dir/labels.tsv`` with lines
    ``images/000000.jpg<TAB>LABEL``.  Image ``i`` depends only on ``(seed, i)``
    and ``kinds``, so any worker count gives byte-identical files.
    """
    count = int(count)
    if count < 0:
        raise ValueError("count must be >= 0")
    workers = max(1, int(workers or 1))
    glyph_dir = Path(glyph_dir) if glyph_dir else default_glyph_dir()
    kinds = parse_kinds(kinds)
    out = Path(out_dir)
    img_dir = out / "images"
    # validate inputs in this process first, for a clear error before forking
    prev_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        gen = Generator(glyph_dir, font, kinds)
        img_dir.mkdir(parents=True, exist_ok=True)
        width = max(6, len(str(max(count - 1, 0))))
        chunk = 64 if count > 512 else max(1, count // (workers * 4) or 1)
        jobs = [(seed, a, min(a + chunk, count), str(img_dir), width) for a in range(0, count, chunk)]
        rows = []
        done = 0
        if workers == 1 or count <= chunk:
            _STATE["gen"] = gen
            it = map(_work, jobs)
            for res in it:
                rows.extend(res)
                done += len(res)
                if progress:
                    progress(done, count)
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(glyph_dir, font, kinds)) as pool:
                for res in pool.imap_unordered(_work, jobs):
                    rows.extend(res)
                    done += len(res)
                    if progress:
                        progress(done, count)
    finally:
        cv2.setNumThreads(prev_threads)
    rows.sort()
    label_file = out / "labels.tsv"
    with open(label_file, "w", encoding="utf-8", newline="\n") as f:
        for _, path, label in rows:
            f.write(f"{path}\t{label}\n")
    return label_file


# ------------------------------------------------------------------ CLI
def configure(parser: argparse.ArgumentParser) -> None:
    kinds = ", ".join(KINDS)
    parser.description = "Render synthetic Taiwan licence plate crops and a PaddleOCR-style label file."
    parser.add_argument("--out", required=True, help="output folder (images/ and labels.tsv)")
    parser.add_argument("--count", type=int, default=1000, help="number of plates (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--glyphs", default=None,
                        help="glyph folder (default $TWPLATE_GLYPHS or ../shared/data/glyphs)")
    parser.add_argument("--font", default=None,
                        help="TrueType/OpenType font with the CJK characters (several joined with ':'); "
                             "default: fonts found on the system (fc-list :lang=zh-tw)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--kinds", default=None,
                        help=f"comma list of plate kinds or groups (special, regular, all); kinds: {kinds}; "
                             "aliases shi4=test shi3=diplomat wai=foreign jun=military ling=consular "
                             "lin=temporary (default: all, weighted like the real data)")


def run(args: argparse.Namespace) -> int:
    t0 = time.time()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.time()
        if now - last[0] > 5 or done == total:
            last[0] = now
            print(f"  {done}/{total} plates ({done / max(now - t0, 1e-6):.1f}/s)", file=sys.stderr)

    try:
        label_file = generate(args.out, args.count, seed=args.seed, glyph_dir=args.glyphs,
                              font=args.font, workers=args.workers, kinds=args.kinds, progress=progress)
    except (SynthError, ValueError) as e:
        print(f"twplate synth: error: {e}", file=sys.stderr)
        return 2
    dt = time.time() - t0
    print(f"wrote {args.count} plates to {label_file} in {dt:.1f} s "
          f"({args.count / max(dt, 1e-6):.1f} plates/s, {args.workers} workers)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="twplate synth")
    configure(p)
    return run(p.parse_args(argv))
