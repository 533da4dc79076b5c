"""Synthetic Taiwan licence plates for training the recogniser (``twplate synth``).

API
---
``generate(out_dir, count, seed=0, glyph_dir=None, font=None, workers=2, kinds=None) -> Path``
    Writes ``out_dir/images/000000.jpg``... and ``out_dir/labels.tsv``
    (``images/000000.jpg<TAB>LABEL``, paths relative to the label file) and
    returns the label file's path.  Image ``i`` depends only on ``(seed, i)``
    and ``kinds``: byte-identical for any number of workers.
``configure(parser)`` / ``run(args)``
    The ``twplate synth`` sub-command (``--out --count --seed --glyphs --font
    --workers --kinds``); ``python -m twplate.training.synth`` runs it alone.
``Generator(glyph_dir, font, kinds).sample(seed, index, kind=None)``
    One sample in memory: ``(label, bgr_image, kind)``.

Inputs
------
Latin glyphs come from the glyph folder (``--glyphs``, ``$TWPLATE_GLYPHS`` or
``../shared/data/glyphs``): the 2014 plate font and the 2012 official solid font
for 2014 plates, the 1992 font for older plates (its ``4.png``, a copy of
``3``, is detected and replaced), region banners from ``plates_1992/region``; a
TrueType fallback draws any Latin glyph missing from the folder.  CJK
characters come from a font (``--font``, ``$TWPLATE_CJK_FONT``, fontconfig's
``zh-tw`` fonts, or a scan of /usr/share/fonts).  Debian/Ubuntu:
``apt-get install fonts-arphic-ukai fonts-wqy-zenhei`` (UKai is a brush face like
the characters on real special plates).  A needed glyph that no font has stops
the run with a message naming the glyph and how to supply a font.

Kinds (``--kinds``; groups ``special``, ``regular``, ``all``)
------------------------------------------------------------
Labels are the number as printed with ``-`` as separator; special plates have
no separator.  Default mix: about 82% regular plates, weighted like the real
data (2014 scooters most), and 18% special plates.

``car2014``    2014 380x160 cars, ``AAA-9999``: every vehicle type's prefix range
               and colours from ROC_2014 (private black/white, disabled with
               wheelchair symbol, rental R*, taxi T* red, tour K[A-D]* white on red,
               traffic KQ[A-D] black on yellow, trucks/buses/trailers green on white
               or white on green).  No I, O or digit 4.
``ev2014``     electric cars (green 電動車 banner and bottom band): EAB-EAK black,
               EAL green, EAM red, REA-REM rental, WEA-WEE disabled.
``moto2014``   2014 scooter / motorcycle plates (smaller, bolts above the text):
               M*/N* 8th-generation scooters and the other ordinary-heavy ranges
               (black/white), light QAL-QMZ (white on green), small light SAC-SEZ
               (red), large heavy LAD-LFZ (black on yellow), 550cc+ LGA-LMZ (white
               on red).  Assumed: electric scooters EMA-EPZ, with a 電動車 banner on
               60% of them.
``car1992``    1992 320x150 cars, 2+4 (``AA-9999`` incl. I/O, ``9A-9999``,
               ``A9-9999``, rental ``99-9999``) and 4+2 (``9999-AA``, ``9999-A9``,
               ``9999-9A``, rental ``9999-99``), with or without a region banner
               (台北市 高雄市 台灣省 金門縣 連江縣), 4+2 electric (black) and disabled variants.
               Codes follow ``ROC_1992.png``: no I, O, 0 or 1 but in early letter-letter
               codes in front; a rental's two digits are one digit twice, never 00 or 11.
``small1992``  1992 2+3 (``AA-999``, ``A9-999``), 3+2 (``999-AA``, ``999-A9``) and 2+2
               (``99-A9``, ``AA-99``) taxis, commercial, tour and trailer plates in
               their colour schemes, with region or 電動車 banner (3+2, red or green on
               white) or none; codes by the same rules, never two digits.
``scooter_old`` pre-2014 scooter plates, 3+3: ``999-AAA`` (most), ``AAA-999``,
               ``AA9-999``, ``A9A-999``, ``9AA-999``, ``A99-999``, ``9A9-999``; 1992
               font, with or without region banner, mostly black on white.
``test``       試 + 4 digits (``試9109``), blue on white, optional region banner.
``diplomat``   使 + 2-3 digits (``使22``, ``使225``): red left panel with a black 使.
``foreign``    外 + 4 digits (``外0872``): yellow (small car) or blue (large) panel.
``military``   ASSUMED (not in the references): 軍 + 4-5 digits (``軍12345``) in the
               試 layout, black on white, white on black or white on olive.
``consular``   ASSUMED: like 使 — 領 + 2-3 digits, red or orange left panel.
``temporary``  ASSUMED: like 試 — 臨 + 4 digits, red, black or blue on white.
Aliases: shi4=test, shi3=diplomat, wai=foreign, jun=military, ling=consular,
lin=temporary.

Augmentation (per image, strength drawn per image, ~12% nearly clean):
bolts/screws, stickers, dirt, dealer frames with printed shop names,
backgrounds, perspective/rotation/shear, tight, loose and edge-cutting crops,
cast shadow, lighting gradients, hard shadows, glare, colour cast, contrast,
gamma, motion/defocus blur, low resolution, noise, JPEG; output at most 320 px
wide (like the real crops), saved as JPEG q90.
"""

from .fonts import SynthError
from .generate import Generator, configure, generate, main, run
from .kinds import KINDS, SPECIAL, parse_kinds

__all__ = ["configure", "run", "main", "generate", "Generator", "KINDS", "SPECIAL", "parse_kinds", "SynthError"]
