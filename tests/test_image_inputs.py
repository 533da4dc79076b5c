"""Every bad or odd input, alone and in a batch, and how each one ends.

Each case below is run three ways on the tiny model (``tiny_models``): alone through
``load_image``, alone through a ``PlateRecognizer`` call, and in the middle of a batch of good
plates. A case that really is an image ends in a result equal to the result of its canonical BGR
``uint8`` form; any other case ends in an :class:`ImageError` whose message starts with the
input's description (:func:`twplate.image.describe`: the path, or the kind/shape/dtype of the
object). In a batch, the bad item gets ``.error`` and empty text, and every other item exactly
its single-image result. The same batch is then read with the shipped model, the CLI is run on
the file cases, and the 20000 x 20000 cases (array and encoded JPEG) run in ``slow`` tests.

=====================================  ===========================================================
case (test id)                         ends in
=====================================  ===========================================================
missing-path                           ImageError "no such file"
url-string (nothing fetched)           ImageError "no such file"
directory                              ImageError "is a directory"
fifo (named pipe; would block)         ImageError "not a regular file"
nul-in-path                            ImageError "invalid path"
empty-file                             ImageError "empty data"
non-image-file                         ImageError "cannot decode"
truncated-jpeg-file (2/3 kept)         ImageError "cannot decode"
truncated-jpeg-header (100 bytes)      ImageError "cannot decode"
truncated-png-bytes                    ImageError "cannot decode"
empty-bytes                            ImageError "empty data"
released-memoryview                    ImageError "unusable memoryview"
non-image-bytes                        ImageError "cannot decode"
png-header-20000x20000                 ImageError "larger than the limit" (refused before decoding)
tiff-deflate-7000x7000 (72 KB file)    ImageError "larger than the limit" (refused before decoding)
gif-7000x7000 (37 KB file)             ImageError "larger than the limit" (refused before decoding)
ppm-header-7000x7000                   ImageError "larger than the limit" (refused before decoding)
zero-size-0x10x3 / 10x0 / 0x0x3        ImageError "image is empty"
5-d                                    ImageError "expected shape"
4-d-batch (1,H,W,3)                    ImageError "expected shape"
1-d                                    ImageError "expected shape"
chw-1-channel (1,H,W)                  ImageError "expected shape"
chw-3-channel (3,H,W)                  ImageError "expected shape"
2-channel (H,W,2)                      ImageError "expected shape"
nan-float32                            ImageError "NaN"
inf-float64                            ImageError "NaN or infinite"
float-negative / float-above-255       ImageError "[0, 1] or [0, 255]"
complex64 / object / str               ImageError "unsupported dtype"
pil-0x0                                ImageError "image is empty"
pil-truncated-lazy-jpeg                ImageError "cannot load PIL image"
pil-closed                             ImageError "cannot load PIL image"
none / int / dict                      ImageError "unsupported input type"
png / tiff / gif / ppm bytes           result = the plate (lossless formats)
strided-memoryview (every 2nd byte)    result = the plate (the view is copied to one buffer)
1x1-bgr / 1x1-grey / 1x1x1 / 1x1 png   result (of the 1x1 image)
grey-2d / grey-hw1 (1-channel 3-D)     result = the grey image as BGR
bgra                                   result = BGR (alpha dropped)
bool                                   result = 0/255
float32-0-1 / float64-0-255 / float16  result = the uint8 image
int16-in-range / int64                 result = the uint8 image
int16-stretched (-200..820)            result = stretched linearly to 0..255
uint16-16bit (x257)                    result = stretched linearly to 0..255
big-endian-uint16                      result = stretched linearly to 0..255
strided-view / negative-stride /       result = np.ascontiguousarray of the view
fortran-order / broadcast (read-only)
pil-P / LA / La / PA / L / RGBA /      result = the grey image as BGR
I;16 / I;16B / I / F / RGB
array-20000x20000 (1.2 GB, slow)       result, equal to the same plate at 48 x 160; no copy made
jpeg-20000x20000 (slow)                result: decoded at 1/4 scale (5000 x 5000), peak RSS checked
=====================================  ===========================================================
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

import tiny_models
from twplate import ImageError, PlateRecognizer, PlateResult
from twplate.cli import main
from twplate.image import describe, load_image, load_image_and_scale
from twplate.model_files import default_model_dir

Image = pytest.importorskip("PIL.Image")

# The plate the tiny model reads: grey stripes, plus one black and one white pixel so that the
# min..max stretch of 16-bit and out-of-range integer inputs maps back to exactly these values.
TEXT = "AB-12"
GREY = tiny_models.stripe_image(TEXT)[:, :, 0].copy()
GREY[0, 0], GREY[-1, -1] = 0, 255
BGR = np.ascontiguousarray(np.repeat(GREY[:, :, None], 3, axis=2))
GOOD_TEXTS = ["ABC-1234", "外0872", "使22"]
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample_files() -> list[Path]:
    """The sample plates, in labels.tsv order."""
    lines = (SAMPLES / "labels.tsv").read_text(encoding="utf-8").splitlines()
    return [SAMPLES / line.split("\t")[0] for line in lines if line.strip()]


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _jpeg(image: np.ndarray, quality: int = 95) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def _pil(mode: str) -> object:
    grey = Image.fromarray(GREY, "L")
    if mode == "La":  # PIL builds La only from raw bytes (alpha 255: same as LA)
        return Image.frombytes("La", grey.size, grey.convert("LA").tobytes())
    return grey.convert(mode)


def _pil_truncated() -> object:
    data = _jpeg(np.random.default_rng(4).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return Image.open(io.BytesIO(data[: len(data) // 2]))  # header fine, pixels cut: fails on load()


def _pil_closed() -> object:
    image = Image.fromarray(BGR)
    image.close()
    return image


def _fifo(tmp: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    path = tmp / "pipe.jpg"
    os.mkfifo(path)
    return path


def _file(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path
    return make


def _huge_png_header() -> bytes:
    data = bytearray(_png(np.zeros((1, 1, 3), np.uint8)))
    data[16:24] = (20000).to_bytes(4, "big") * 2  # IHDR width and height; no pixels behind them
    return bytes(data)


def _released(data: bytes) -> memoryview:
    view = memoryview(data)
    view.release()
    return view


@functools.cache
def _bomb(fmt: str) -> bytes:
    """A small file of a 7000 x 7000 black image (49 Mpx, above the 40 Mpx decode limit)."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((7000, 7000), np.uint8)).save(buf, fmt, **({"compression": "tiff_deflate"}
                                                                       if fmt == "TIFF" else {}))
    return buf.getvalue()


def _pil_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(GREY).save(buf, fmt)
    return buf.getvalue()


def _wide_view() -> np.ndarray:
    wide = np.zeros((48, 320, 3), np.uint8)
    wide[:, ::2] = BGR
    return wide[:, ::2]


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], object]
    error: str | None = None               # regex the ImageError message must match
    canonical: Callable[[], np.ndarray] | None = None  # the BGR uint8 image a result case stands for
    file_based: bool = False


def _plate() -> np.ndarray:
    return BGR


def _ok(id: str, make: Callable[[], object], canonical: Callable[[], np.ndarray] = _plate) -> Case:
    return Case(id, lambda tmp: make(), canonical=canonical)


def _err(id: str, make: Callable[[], object], error: str) -> Case:
    return Case(id, lambda tmp: make(), error=error)


def _stretched(array: np.ndarray) -> np.ndarray:
    a = array.astype(np.float64)
    grey = np.rint((a - a.min()) * 255.0 / (a.max() - a.min())).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _grey_bgr(grey: np.ndarray) -> Callable[[], np.ndarray]:
    return lambda: np.repeat(grey[:, :, None], 3, axis=2)


JPEG = _jpeg(BGR)
CASES: list[Case] = [
    # ---- paths
    Case("missing-path", lambda tmp: tmp / "missing.jpg", error="no such file", file_based=True),
    Case("url-string", lambda tmp: "https://example.com/plate.jpg", error="no such file"),
    Case("directory", lambda tmp: tmp, error="is a directory"),
    Case("fifo", _fifo, error="not a regular file", file_based=True),
    Case("nul-in-path", lambda tmp: str(tmp / "a\0b.jpg"), error="invalid path"),
    Case("empty-file", _file("empty.jpg", b""), error="empty data", file_based=True),
    Case("non-image-file", _file("notes.jpg", b"this is not an image\n" * 20), error="cannot decode",
         file_based=True),
    Case("truncated-jpeg-file", _file("cut.jpg", JPEG[: len(JPEG) * 2 // 3]), error="cannot decode", file_based=True),
    Case("truncated-jpeg-header", _file("head.jpg", JPEG[:100]), error="cannot decode", file_based=True),
    Case("png-header-20000x20000", _file("huge.png", _huge_png_header()), error="larger than the limit",
         file_based=True),
    # ---- encoded bytes
    _err("truncated-png-bytes", lambda: _png(BGR)[:200], "cannot decode"),
    _err("empty-bytes", lambda: b"", "empty data"),
    _err("released-memoryview", lambda: _released(_png(BGR)), "unusable memoryview"),
    _ok("strided-memoryview", lambda: memoryview(bytes(b for pair in zip(_png(BGR), _png(BGR)) for b in pair))[::2]),
    _err("non-image-bytes", lambda: b"GIF? no. " * 30, "cannot decode"),
    _ok("png-bytes", lambda: _png(BGR)),
    _ok("tiff-bytes", lambda: _pil_bytes("TIFF")),
    _ok("gif-bytes", lambda: _pil_bytes("GIF")),
    _ok("ppm-bytes", lambda: _pil_bytes("PPM")),
    _err("tiff-deflate-7000x7000", lambda: _bomb("TIFF"), "tiff of 7000 x 7000 pixels is larger than the limit"),
    _err("gif-7000x7000", lambda: _bomb("GIF"), "gif of 7000 x 7000 pixels is larger than the limit"),
    _err("ppm-header-7000x7000", lambda: b"P6\n# huge\n7000 7000\n255\n" + bytes(300),
         "pnm of 7000 x 7000 pixels is larger than the limit"),
    _ok("1x1-png-bytes", lambda: _png(np.full((1, 1, 3), 77, np.uint8)), lambda: np.full((1, 1, 3), 77, np.uint8)),
    # ---- arrays: shapes
    _err("zero-size-0x10x3", lambda: np.zeros((0, 10, 3), np.uint8), "image is empty"),
    _err("zero-size-10x0", lambda: np.zeros((10, 0), np.uint8), "image is empty"),
    _err("zero-size-0x0x3", lambda: np.zeros((0, 0, 3), np.uint8), "image is empty"),
    _err("5-d", lambda: np.zeros((2, 48, 160, 1, 3), np.uint8), "expected shape"),
    _err("4-d-batch", lambda: BGR[None], "expected shape"),
    _err("1-d", lambda: BGR.ravel(), "expected shape"),
    _err("chw-1-channel", lambda: GREY[None], "expected shape"),
    _err("chw-3-channel", lambda: BGR.transpose(2, 0, 1), "expected shape"),
    _err("2-channel", lambda: BGR[:, :, :2], "expected shape"),
    _ok("1x1-bgr", lambda: np.full((1, 1, 3), 200, np.uint8), lambda: np.full((1, 1, 3), 200, np.uint8)),
    _ok("1x1-grey", lambda: np.full((1, 1), 200, np.uint8), lambda: np.full((1, 1, 3), 200, np.uint8)),
    _ok("1x1x1", lambda: np.full((1, 1, 1), 200, np.uint8), lambda: np.full((1, 1, 3), 200, np.uint8)),
    _ok("grey-2d", lambda: GREY),
    _ok("grey-hw1", lambda: GREY[:, :, None]),
    _ok("bgra", lambda: np.concatenate([BGR, np.full((48, 160, 1), 9, np.uint8)], axis=2)),
    # ---- arrays: dtypes and values
    _err("nan-float32", lambda: np.where(GREY > 200, np.nan, GREY / 255.0).astype(np.float32), "NaN"),
    _err("inf-float64", lambda: np.where(GREY > 200, np.inf, GREY / 255.0), "NaN or infinite"),
    _err("float-negative", lambda: GREY / 255.0 - 0.5, r"\[0, 1\] or \[0, 255\]"),
    _err("float-above-255", lambda: GREY * 2.0, r"\[0, 1\] or \[0, 255\]"),
    _err("complex64", lambda: GREY.astype(np.complex64), "unsupported dtype"),
    _err("object", lambda: GREY.astype(object), "unsupported dtype"),
    _err("str", lambda: np.array([["a", "b"]]), "unsupported dtype"),
    _ok("bool", lambda: GREY > 127, _grey_bgr(np.where(GREY > 127, 255, 0).astype(np.uint8))),
    _ok("float32-0-1", lambda: (BGR / 255.0).astype(np.float32)),
    _ok("float64-0-255", lambda: BGR.astype(np.float64)),
    _ok("float16-0-1", lambda: (BGR / 255.0).astype(np.float16)),
    _ok("int16-in-range", lambda: BGR.astype(np.int16)),
    _ok("int64", lambda: BGR.astype(np.int64)),
    _ok("int16-stretched", lambda: GREY.astype(np.int16) * 4 - 200,
        lambda: _stretched(GREY.astype(np.int16) * 4 - 200)),
    _ok("uint16-16bit", lambda: BGR.astype(np.uint16) * 257),
    _ok("big-endian-uint16", lambda: (BGR.astype(np.uint16) * 257).astype(">u2")),
    # ---- arrays: memory layout
    _ok("strided-view", _wide_view),
    _ok("negative-stride", lambda: BGR[:, ::-1], lambda: np.ascontiguousarray(BGR[:, ::-1])),
    _ok("fortran-order", lambda: np.asfortranarray(BGR)),
    _ok("broadcast-read-only", lambda: np.broadcast_to(GREY[:, :, None], (48, 160, 3))),
    # ---- PIL
    *[_ok(f"pil-{mode}", lambda mode=mode: _pil(mode))
      for mode in ("P", "LA", "La", "PA", "L", "RGB", "RGBA", "I;16", "I;16B", "I", "F")],
    _err("pil-0x0", lambda: Image.new("RGB", (0, 0)), "image is empty"),
    _err("pil-truncated-lazy-jpeg", _pil_truncated, "cannot load PIL image"),
    _err("pil-closed", _pil_closed, "cannot load PIL image"),
    # ---- not images at all
    _err("none", lambda: None, "unsupported input type"),
    _err("int", lambda: 42, "unsupported input type"),
    _err("dict", lambda: {"path": "a.jpg"}, "unsupported input type"),
]
IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS)


@pytest.fixture(scope="module")
def reader(tiny_model_dir: Path) -> PlateRecognizer:
    return PlateRecognizer(tiny_model_dir, batch_size=4)


@pytest.fixture(scope="module")
def goods() -> list[np.ndarray]:
    return [tiny_models.stripe_image(t, width=160 + 40 * i) for i, t in enumerate(GOOD_TEXTS)]


def _check_error(err: BaseException, case: Case, source: object) -> None:
    assert isinstance(err, ImageError), f"{case.id}: {type(err).__name__}: {err}"
    assert re.search(case.error, str(err)), f"{case.id}: {err}"
    assert str(err).startswith(describe(source) + ": "), f"{case.id}: message does not name the input: {err}"


def _make_all(tmp_path: Path) -> list[object]:
    """Every case's input, each file case in a folder of its own."""
    sources = []
    for case in CASES:
        (tmp_path / case.id).mkdir()
        sources.append(case.make(tmp_path / case.id))
    return sources


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_load_image(case: Case, tmp_path: Path) -> None:
    source = case.make(tmp_path)
    if case.error:
        with pytest.raises(ImageError) as info:
            load_image(source)
        _check_error(info.value, case, source)
    else:
        out = load_image(source)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, case.canonical())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_alone_through_the_recognizer(case: Case, tmp_path: Path, reader: PlateRecognizer) -> None:
    source = case.make(tmp_path)
    if case.error:
        with pytest.raises(ImageError) as info:
            reader(source)
        _check_error(info.value, case, source)
    else:
        result = reader(source)
        assert result.ok and result == reader(case.canonical())
        if case.canonical is _plate:  # the whole plate, not a 1x1 dot or a bool mask
            assert result.text == TEXT


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_in_a_batch(case: Case, tmp_path: Path, reader: PlateRecognizer, goods: list[np.ndarray]) -> None:
    source = case.make(tmp_path)
    batch = [goods[0], goods[1], source, goods[2], goods[0]]
    results = reader(batch)
    assert len(results) == len(batch)
    singles = [reader(g) for g in goods]
    assert [r.text for r in singles] == GOOD_TEXTS
    assert [results[i] for i in (0, 1, 3, 4)] == [singles[0], singles[1], singles[2], singles[0]]
    bad = results[2]
    if case.error:
        assert not bad.ok and bad.text == "" and bad.confidence == 0.0 and bad.char_confidences == ()
        _check_error(bad.error, case, source)
        if isinstance(source, (str, os.PathLike)):
            assert bad.source == os.fspath(source)
    else:
        assert bad == reader(case.canonical())


def test_every_case_in_one_batch(tmp_path: Path, reader: PlateRecognizer, goods: list[np.ndarray]) -> None:
    """All cases at once, each between two good plates, in chunks smaller than the list."""
    sources = _make_all(tmp_path)
    batch, where = [], []
    for i, source in enumerate(sources):
        batch.append(goods[i % 3])
        where.append(len(batch))
        batch.append(source)
    batch.append(goods[0])
    results = reader(batch)
    assert len(results) == len(batch)
    for case, source, i in zip(CASES, sources, where, strict=True):
        if case.error:
            _check_error(results[i].error, case, source)
            assert results[i].text == ""
        else:
            assert results[i] == reader(case.canonical()), case.id
    good_positions = sorted(set(range(len(batch))) - set(where))
    assert [results[i].text for i in good_positions] == [GOOD_TEXTS[k % 3] for k in range(len(sources))] + [
        GOOD_TEXTS[0]]


# ---------------------------------------------------------------- the shipped model


MODEL = default_model_dir()
needs_shipped = pytest.mark.skipif(not (MODEL / "inference.yml").is_file(), reason="shipped model not exported")


@needs_shipped
def test_shipped_model_batch_with_every_case(tmp_path: Path) -> None:
    """Real plates between all the cases: the good plates read as they do alone; each case as in the table."""
    reader = PlateRecognizer(backend="onnxruntime")
    plates = [cv2.imread(str(p)) for p in sample_files()]
    singles = [reader(p) for p in plates]
    sources = _make_all(tmp_path)
    batch, where = [], []
    for i, source in enumerate(sources):
        batch.append(plates[i % len(plates)])
        where.append(len(batch))
        batch.append(source)
    results = reader(batch)
    for case, source, i in zip(CASES, sources, where, strict=True):
        if case.error:
            _check_error(results[i].error, case, source)
            assert results[i].text == "" and results[i].char_confidences == ()
        else:
            alone = reader(case.canonical())
            assert results[i].ok and results[i].text == alone.text, case.id
    for k, i in enumerate(sorted(set(range(len(batch))) - set(where))):
        expected = singles[k % len(plates)]
        assert results[i].text == expected.text
        # a backend call holds one width, so a plate reads as it does alone (ORT's sums: last bits only)
        assert results[i].confidence == pytest.approx(expected.confidence, abs=1e-5)
        assert results[i].char_confidences == pytest.approx(expected.char_confidences, abs=1e-5)


@needs_shipped
def test_shipped_model_reads_odd_forms_of_a_real_plate() -> None:
    """Grey, BGRA, float, 16-bit, PIL P/LA/I;16 forms of a real plate read as their canonical BGR forms."""
    reader = PlateRecognizer(backend="onnxruntime")
    bgr = cv2.imread(str(sample_files()[0]))
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    grey_bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    rgb = Image.fromarray(bgr[:, :, ::-1].copy())
    forms = {
        "bgra": (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), bgr),
        "float32": (bgr.astype(np.float32) / 255, bgr),
        "int16": (bgr.astype(np.int16), bgr),
        "non-contiguous": (np.ascontiguousarray(np.repeat(bgr, 2, axis=1))[:, ::2], bgr),
        "pil-rgb": (rgb, bgr),
        "pil-RGBA": (rgb.convert("RGBA"), bgr),
        "grey": (grey, grey_bgr),
        "grey-hw1": (grey[:, :, None], grey_bgr),
        "pil-L": (Image.fromarray(grey), grey_bgr),
        "pil-LA": (Image.fromarray(grey).convert("LA"), grey_bgr),
        "pil-P": (Image.fromarray(grey).convert("P"), grey_bgr),
        "pil-I;16": (Image.fromarray(grey).convert("I;16"), grey_bgr),  # values in 0..255: used as is
        "uint16-x257": (grey.astype(np.uint16) * 257, _stretched(grey)),  # 16-bit: min..max to 0..255
    }
    for name, (form, canonical) in forms.items():
        assert reader(form) == reader(canonical), name
    assert reader(bgr).text  # the plate is read at all


@needs_shipped
def test_cli_reports_each_failed_file_and_carries_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``twplate read`` on good plates and every file case: one row per readable path, each failure on
    stderr by name, the good rows as the library reads them, exit code 1."""
    folder = tmp_path / "in"
    folder.mkdir()
    good = []
    for p in sample_files()[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
        good.append(folder / p.name)
    bad = [case.make(folder) for case in CASES if case.file_based]
    argv = ["read", "--json", "--batch-size", "2", *map(str, good[:2]), *map(str, bad), str(good[2])]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 1
    rows = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    library = PlateRecognizer()(good)
    for path, result in zip(good, library, strict=True):
        assert rows[path.name]["text"] == result.text and rows[path.name]["error"] is None
    for path in bad:
        assert path.name in err, f"{path.name} not reported: {err}"
        if path.name in rows:  # it reached the recognizer: an error row with empty text
            assert rows[path.name]["text"] == "" and rows[path.name]["error"]
    assert f"of {len(rows)} images failed" in err


# ---------------------------------------------------------------- 20000 x 20000


@pytest.mark.slow
def test_array_20000x20000(tiny_model_dir: Path, goods: list[np.ndarray]) -> None:
    """A 1.2 GB BGR array is read without a copy: same text as the plate it scales up, alone and in a batch."""
    reader = PlateRecognizer(tiny_model_dir)
    plate = tiny_models.stripe_image(TEXT)  # 48 x 160; x125 wide, any height, resizes back exactly
    huge = np.empty((20000, 20000, 3), np.uint8)
    huge[:] = np.repeat(plate[0], 125, axis=0)[None]
    try:
        assert np.shares_memory(load_image(huge), huge)
        assert reader(huge).text == TEXT
        results = reader([goods[0], huge, goods[1]])
        assert [r.text for r in results] == [GOOD_TEXTS[0], TEXT, GOOD_TEXTS[1]]
    finally:
        del huge


@pytest.mark.slow
def test_jpeg_20000x20000_reduced_decode(tmp_path: Path, tiny_model_dir: Path) -> None:
    """An encoded 20000 x 20000 JPEG decodes at 1/4 scale (5000 x 5000: 75 MB, not 1.2 GB), and reads right."""
    plate = tiny_models.stripe_image(TEXT)[:, :, 0]
    grey = np.empty((20000, 20000), np.uint8)
    grey[:] = np.repeat(plate[0], 125)[None]
    path = tmp_path / "huge.jpg"
    Image.fromarray(grey).save(path, "JPEG", quality=95)
    del grey
    image, scale = load_image_and_scale(path)
    assert image.shape == (5000, 5000, 3) and scale == 4
    del image
    reader = PlateRecognizer(tiny_model_dir)
    assert reader(path).text == TEXT
    results = reader([tiny_models.stripe_image(GOOD_TEXTS[0]), path, b"junk"])
    assert [r.text for r in results] == [GOOD_TEXTS[0], TEXT, ""] and isinstance(results[2].error, ImageError)
    assert isinstance(results[1], PlateResult) and results[1].source == str(path)


def test_headers_of_the_formats_sized_before_decoding() -> None:
    """TIFF (both byte orders), GIF and PNM sizes are read from their headers, as PNG/JPEG/BMP/WebP."""
    from twplate.image_header import read_header

    small = np.random.default_rng(3).integers(0, 255, (37, 123, 3), dtype=np.uint8)
    for ext, fmt in ((".tiff", "tiff"), (".ppm", "pnm"), (".pgm", "pnm"), (".pbm", "pnm")):
        ok, buf = cv2.imencode(ext, small if ext == ".ppm" or ext == ".tiff" else small[..., 0])
        assert ok and read_header(buf.tobytes()) == (fmt, 123, 37), ext
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, "GIF")
    assert read_header(buf.getvalue()) == ("gif", 123, 37)
    # big-endian TIFF: IFD at 8 with ImageWidth (SHORT 123) and ImageLength (LONG 37)
    big_endian = (b"MM\x00*" + (8).to_bytes(4, "big") + (2).to_bytes(2, "big")
                  + bytes.fromhex("0100 0003 00000001 007b0000") + bytes.fromhex("0101 0004 00000001 00000025"))
    assert read_header(big_endian) == ("tiff", 123, 37)
    assert read_header(b"P5 # a comment\n  # another\n 640\t480 255 ") == ("pnm", 640, 480)
    for cut in (b"GIF89a", b"II*\x00", b"II*\x00\xff\xff\xff\x7f", b"P6\n12", b"P6\nxx 3 4"):
        assert read_header(cut) is None, cut
