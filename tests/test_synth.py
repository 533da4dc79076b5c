"""Tests for the synthetic plate generator (twplate.training.synth). No paddle needed."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    import twplate.training.synth  # noqa: F401
except ImportError:  # running from a plain checkout
    sys.path.insert(0, str(ROOT / "src"))

from plates import GLYPHS, needs_glyphs  # noqa: E402
from twplate.training import synth  # noqa: E402
from twplate.training.synth import fonts as synth_fonts  # noqa: E402

DICT = set((ROOT / "dict" / "dict_taiwan_car.txt").read_text(encoding="utf-8").split())

PATTERNS = {
    "car2014": r"[A-HJ-NP-Z]{3}-[0-35-9]{4}",
    "ev2014": r"[A-HJ-NP-Z]{3}-[0-35-9]{4}",
    "moto2014": r"[A-HJ-NP-Z]{3}-[0-35-9]{4}",
    "car1992": r"[A-Z0-9]{2}-\d{4}|\d{4}-[A-Z0-9]{2}",
    "small1992": r"[A-Z0-9]{2}-[A-Z0-9]{3}|[A-Z0-9]{3}-[A-Z0-9]{2}|[A-Z0-9]{2}-[A-Z0-9]{2}",
    "scooter_old": r"[A-Z0-9]{3}-[A-Z0-9]{3}",
    "test": r"試\d{4}",
    "diplomat": r"使\d{2,3}",
    "foreign": r"外\d{4}",
    "military": r"軍\d{4,5}",
    "consular": r"領\d{2,3}",
    "temporary": r"臨\d{4}",
}


def _cjk_font_available() -> bool:
    try:
        synth_fonts.CJKFonts().require("試使外軍領臨電動車", "tests")
        return True
    except synth_fonts.SynthError:
        return False


needs_cjk = pytest.mark.skipif(not _cjk_font_available(), reason="no CJK font installed")


@pytest.fixture(scope="module")
def gen():
    if not (GLYPHS / "plates_2014").is_dir():
        pytest.skip(f"glyph folder {GLYPHS} not available")
    if not _cjk_font_available():
        pytest.skip("no CJK font installed")
    return synth.Generator(GLYPHS)


def test_kinds_cover_patterns():
    assert set(PATTERNS) == set(synth.KINDS)
    assert set(synth.parse_kinds("special")) == set(synth.SPECIAL)
    assert synth.parse_kinds("shi4,shi3,wai,jun,ling,lin") == list(synth.SPECIAL)
    assert synth.parse_kinds(None) == list(synth.KINDS)
    with pytest.raises(ValueError, match="unknown plate kind"):
        synth.parse_kinds("car2014,bogus")


@needs_glyphs
@needs_cjk
@pytest.mark.parametrize("kind", list(PATTERNS))
def test_every_kind_renders(gen, kind):
    for i in range(4):
        label, img, k = gen.sample(11, i, kind=kind)
        assert k == kind
        assert re.fullmatch(PATTERNS[kind], label), (kind, label)
        assert set(label) <= DICT, label
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        h, w = img.shape[:2]
        assert 40 <= w <= 320 and 16 <= h <= 320, img.shape


@needs_glyphs
@needs_cjk
def test_1992_codes_follow_the_reference_chart(gen):
    """ROC_1992.png: a two-character code uses no I, O, 0 or 1, except early letter-letter codes in front of
    four digits; two digits only on rentals, one digit twice, never 00 or 11; no two-digit code on 2+3 / 3+2."""
    seen = set()
    for kind in ("car1992", "small1992"):
        for i in range(150):
            label = gen.sample(5, i, kind=kind)[0]
            head, tail = label.split("-")
            if len(head) == len(tail) == 2:
                continue  # 2+2 trailers: not on the chart's code rules
            front = len(head) == 2
            code, number = (head, tail) if front else (tail, head)
            seen.add((kind, front, code.isdigit()))
            if code.isdigit():
                assert len(number) == 4 and code[0] == code[1] and code not in ("00", "11"), label
            elif not (front and code.isalpha() and len(number) == 4):
                assert not set(code) & set("01IO"), label
    assert {("car1992", True, True), ("car1992", False, True), ("small1992", True, False)} <= seen


@needs_glyphs
@needs_cjk
def test_default_mix_has_special_plates(gen):
    kinds = [gen.sample(3, i)[2] for i in range(150)]
    share = sum(k in synth.SPECIAL for k in kinds) / len(kinds)
    assert 0.05 < share < 0.35
    assert len(set(kinds)) >= 8


@needs_glyphs
@needs_cjk
def test_generate_deterministic_across_workers(tmp_path):
    a = synth.generate(tmp_path / "a", 10, seed=7, glyph_dir=GLYPHS, workers=1)
    b = synth.generate(tmp_path / "b", 10, seed=7, glyph_dir=GLYPHS, workers=2)
    synth.generate(tmp_path / "c", 10, seed=8, glyph_dir=GLYPHS, workers=1)
    assert a.read_bytes() == b.read_bytes()
    files = sorted((tmp_path / "a" / "images").iterdir())
    assert len(files) == 10
    for f in files:
        assert f.read_bytes() == (tmp_path / "b" / "images" / f.name).read_bytes()
    differ = [f.read_bytes() != (tmp_path / "c" / "images" / f.name).read_bytes() for f in files]
    assert all(differ)


@needs_glyphs
@needs_cjk
def test_label_file_format(tmp_path):
    lf = synth.generate(tmp_path / "out", 6, seed=1, glyph_dir=GLYPHS, workers=1, kinds="special,car2014")
    assert lf == tmp_path / "out" / "labels.tsv"
    lines = lf.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    for i, line in enumerate(lines):
        path, label = line.split("\t")
        assert path == f"images/{i:06d}.jpg"
        assert (lf.parent / path).is_file()
        assert label and set(label) <= DICT
        assert any(re.fullmatch(PATTERNS[k], label) for k in list(synth.SPECIAL) + ["car2014"])


@needs_glyphs
@needs_cjk
def test_cli_configure_run(tmp_path, capsys):
    p = argparse.ArgumentParser()
    synth.configure(p)
    args = p.parse_args(["--out", str(tmp_path / "cli"), "--count", "3", "--seed", "2",
                         "--glyphs", str(GLYPHS), "--workers", "1", "--kinds", "wai,moto2014"])
    assert synth.run(args) == 0
    assert len((tmp_path / "cli" / "labels.tsv").read_text(encoding="utf-8").splitlines()) == 3


def test_missing_glyph_folder(tmp_path, capsys):
    with pytest.raises(synth.SynthError, match="glyph folder not found.*--glyphs"):
        synth.generate(tmp_path / "o", 2, glyph_dir=tmp_path / "nope")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(synth.SynthError, match="no character images"):
        synth.generate(tmp_path / "o", 2, glyph_dir=empty)
    p = argparse.ArgumentParser()
    synth.configure(p)
    args = p.parse_args(["--out", str(tmp_path / "o"), "--count", "2", "--glyphs", str(empty)])
    assert synth.run(args) == 2
    assert "no character images" in capsys.readouterr().err


@needs_glyphs
def test_missing_cjk_font(tmp_path, monkeypatch):
    monkeypatch.delenv("TWPLATE_CJK_FONT", raising=False)
    monkeypatch.setattr(synth_fonts, "_font_candidates_fc", lambda: [])
    monkeypatch.setattr(synth_fonts, "_font_candidates_scan", lambda: [])
    with pytest.raises(synth.SynthError, match=r"'試'.*--font PATH"):
        synth.Generator(GLYPHS, kinds="test")
    # kinds without CJK characters still work without a CJK font
    g = synth.Generator(GLYPHS, kinds="car2014,scooter_old")
    label, img, _ = g.sample(0, 0)
    assert img.dtype == np.uint8
    # a font without the glyph, given explicitly
    latin = sorted(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"))
    if latin:
        with pytest.raises(synth.SynthError, match=r"'使'.*--font"):
            synth.Generator(GLYPHS, font=str(latin[0]), kinds="diplomat")
    with pytest.raises(synth.SynthError, match="no such font file"):
        synth.Generator(GLYPHS, font=str(tmp_path / "missing.ttf"), kinds="test")
