"""Broken models fail at load time with a ModelError, on every backend.

Cases, on a private copy of the shipped model (``models/twplate-rec``) unless said otherwise:

==========================================================  ===========================================
broken how                                                  ends in (every backend unless said)
==========================================================  ===========================================
a file missing (each of the three)                          "... is missing" (the backends that read it:
                                                            ONNX: onnxruntime, openvino; Paddle: paddle)
a byte flipped in a file (each of the three)                "checksum mismatch" (the backends that read it)
the same, as the *default* model (no ``model=``)            "checksum mismatch"
ONNX truncated / head overwritten / empty, fresh sha256     "<backend> cannot load" (onnxruntime, openvino)
ONNX weights overwritten with 0xFF (NaN), fresh sha256      "does not output probabilities"
.pdiparams truncated by half / empty / trailing bytes,       "Paddle cannot load"
  fresh sha256
.pdiparams 3 bytes short (Paddle loads it), old sha256      "checksum mismatch"
inference.json truncated / not JSON, fresh sha256           "Paddle cannot load"
dictionary one character short / long (inference.yml)       onnxruntime, openvino: "dictionary in its
                                                            metadata differs"; paddle: "outputs 44 classes"
dictionary one short, ONNX without dictionary metadata      "outputs 44 classes" (onnxruntime, openvino)
inference.yml says NHWC / RGB                               "unsupported input layout"
graph input NHWC / 1-channel / fixed width / height 32 /     onnxruntime, openvino: "expected (N, 3, 48, W)"
                                                            (openvino, NHWC: "openvino cannot load");
  fixed batch 1 (tiny models)                               paddle (NHWC, 1-channel): "rejects input"
==========================================================  ===========================================
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tiny_models
import twplate.model_files as model_files
from twplate import PlateRecognizer
from twplate.errors import ModelError
from twplate.model_files import ONNX_FILE, PADDLE_FILES, YAML_FILE, default_model_dir, read_model_yaml, write_model_yaml

MODEL = default_model_dir()
pytestmark = pytest.mark.skipif(not (MODEL / YAML_FILE).is_file(), reason="shipped model not exported")
ONNX_BACKENDS = ("onnxruntime", "openvino")
READERS = [(ONNX_FILE, b) for b in ONNX_BACKENDS] + [(name, "paddle") for name in PADDLE_FILES]
"""Each model file with each backend that reads it."""


def _needs(backend: str) -> None:
    if backend in ("paddle", "openvino"):
        pytest.importorskip(backend)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A private copy of the shipped model to break."""
    return Path(shutil.copytree(MODEL, tmp_path / "model"))


def _refresh_checksums(directory: Path, characters: tuple[str, ...] | None = None) -> None:
    """Rewrite inference.yml with the sha256 of the files as they are now (as a careless exporter would)."""
    spec = read_model_yaml(directory)
    write_model_yaml(directory, spec.name, spec.version, characters or spec.charset.characters, spec.preprocess,
                     spec.input_name)


def _load_fails(directory: Path, backend: str, match: str) -> ModelError:
    _needs(backend)
    with pytest.raises(ModelError, match=match) as info:
        PlateRecognizer(directory, backend=backend)
    return info.value


# ---------------------------------------------------------------- missing files and checksums


@pytest.mark.parametrize(("name", "backend"), READERS)
def test_missing_file(broken: Path, name: str, backend: str) -> None:
    (broken / name).unlink()
    _load_fails(broken, backend, f"{name} is missing")


def test_missing_yaml(broken: Path) -> None:
    (broken / YAML_FILE).unlink()
    with pytest.raises(ModelError, match="inference.yml is missing"):
        PlateRecognizer(broken)


@pytest.mark.parametrize(("name", "backend"), READERS)
def test_flipped_byte_fails_its_checksum(broken: Path, name: str, backend: str) -> None:
    data = bytearray((broken / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the weights: it would load and quietly read worse
    (broken / name).write_bytes(bytes(data))
    err = _load_fails(broken, backend, "checksum mismatch")
    assert str(broken / name) in str(err)


@pytest.mark.parametrize("backend", [*ONNX_BACKENDS, "paddle"])
def test_default_model_is_verified(backend: str, broken: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``PlateRecognizer()`` hashes the shipped files it loads and compares them with inference.yml."""
    _needs(backend)
    spec = read_model_yaml(MODEL)
    assert set(spec.checksums) == {ONNX_FILE, *PADDLE_FILES}
    hashed: list[Path] = []
    real_sha256 = model_files.sha256_file

    def spy(path):
        hashed.append(Path(path))
        return real_sha256(path)

    monkeypatch.setattr(model_files, "sha256_file", spy)
    PlateRecognizer(backend=backend)
    wanted = list(PADDLE_FILES) if backend == "paddle" else [ONNX_FILE]
    assert [p for p in hashed if p.parent == MODEL] == [MODEL / name for name in wanted]

    # And a corrupted default model is refused: point the default at a copy with one byte changed.
    name = wanted[-1]
    data = bytearray((broken / name).read_bytes())
    data[-100] ^= 0x80
    (broken / name).write_bytes(bytes(data))
    monkeypatch.setattr(model_files, "default_model_dir", lambda: broken)
    with pytest.raises(ModelError, match="checksum mismatch"):
        PlateRecognizer(backend=backend)


# ---------------------------------------------------------------- corrupt files that pass their (fresh) checksum


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
@pytest.mark.parametrize(("mutate", "match"), [
    (lambda d: d[: len(d) // 2], "{backend} cannot load"),
    (lambda d: d[:10], "{backend} cannot load"),
    (lambda d: b"", "{backend} cannot load"),
    (lambda d: b"\xff" * 64 + d[64:], "{backend} cannot load"),
    (lambda d: d[: len(d) // 2] + b"\xff" * 4096 + d[len(d) // 2 + 4096 :], "does not output probabilities"),
], ids=["truncated-half", "truncated-10-bytes", "empty", "head-overwritten", "weights-nan"])
def test_corrupt_onnx(broken: Path, mutate: Callable[[bytes], bytes], match: str, backend: str) -> None:
    path = broken / ONNX_FILE
    path.write_bytes(mutate(path.read_bytes()))
    _refresh_checksums(broken)
    _load_fails(broken, backend, match.format(backend=backend))


@pytest.mark.paddle
@pytest.mark.parametrize(("name", "mutate"), [
    ("inference.pdiparams", lambda d: d[: len(d) // 2]),
    ("inference.pdiparams", lambda d: b""),
    ("inference.pdiparams", lambda d: d + bytes(7)),
    ("inference.json", lambda d: d[: len(d) // 2]),
    ("inference.json", lambda d: b"{not json"),
    ("inference.json", lambda d: b""),
], ids=["pdiparams-truncated-half", "pdiparams-empty", "pdiparams-trailing-bytes",
        "program-truncated", "program-not-json", "program-empty"])
def test_corrupt_paddle_files(broken: Path, name: str, mutate: Callable[[bytes], bytes]) -> None:
    path = broken / name
    path.write_bytes(mutate(path.read_bytes()))
    _refresh_checksums(broken)
    _load_fails(broken, "paddle", "Paddle cannot load")


@pytest.mark.paddle
def test_pdiparams_a_few_bytes_short_fails_its_checksum(broken: Path) -> None:
    """Paddle Inference loads this file without an error: the sha256 is what catches it."""
    path = broken / "inference.pdiparams"
    path.write_bytes(path.read_bytes()[:-3])
    _load_fails(broken, "paddle", "checksum mismatch")


# ---------------------------------------------------------------- dictionary and input layout


@pytest.mark.parametrize("backend", [*ONNX_BACKENDS, "paddle"])
@pytest.mark.parametrize("change", ["short", "long"])
def test_dictionary_does_not_fit(broken: Path, backend: str, change: str) -> None:
    characters = read_model_yaml(broken).charset.characters
    characters = characters[:-1] if change == "short" else (*characters, "Q?")
    _refresh_checksums(broken, characters)
    match = "outputs 44 classes" if backend == "paddle" else "dictionary in its metadata differs"
    _load_fails(broken, backend, match)


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_dictionary_does_not_fit_onnx_without_metadata(tmp_path: Path, backend: str) -> None:
    """Without the dictionary in the ONNX metadata, the output size check still catches it."""
    onnx = pytest.importorskip("onnx")
    directory = tmp_path / "m"
    directory.mkdir()
    model = onnx.load(str(MODEL / ONNX_FILE))
    del model.metadata_props[:]
    onnx.save(model, str(directory / ONNX_FILE))
    spec = read_model_yaml(MODEL)
    write_model_yaml(directory, "m", "0", spec.charset.characters[:-1], spec.preprocess)
    err = _load_fails(directory, backend, "outputs 44 classes")
    assert "42 characters" in str(err)


@pytest.mark.parametrize("field", [("layout", "NHWC"), ("channels", "RGB")])
def test_yaml_declares_another_layout(broken: Path, field: tuple[str, str]) -> None:
    path = broken / YAML_FILE
    text = path.read_text(encoding="utf-8")
    key, value = field
    old = {"layout": "layout: NCHW", "channels": "channels: BGR"}[key]
    assert old in text
    path.write_text(text.replace(old, f"{key}: {value}"), encoding="utf-8")
    with pytest.raises(ModelError, match="unsupported input layout"):
        PlateRecognizer(broken)


def _paddle_tiny(directory: Path, layout: str) -> Path:
    """A tiny Paddle model that takes NHWC, or a single channel, instead of (N, 3, 48, W)."""
    import paddle

    class Net(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.pool = paddle.nn.AvgPool2D(kernel_size=(48, 8), stride=(48, 8))
            self.conv = paddle.nn.Conv2D(1 if layout == "gray" else 3, 44, 1)

        def forward(self, x):
            if layout == "nhwc":
                x = x.transpose([0, 3, 1, 2])
            logits = self.conv(self.pool(x)).squeeze(2).transpose([0, 2, 1])
            return paddle.nn.functional.softmax(logits, axis=-1)

    shape = {"nhwc": [None, 48, None, 3], "gray": [None, 1, 48, None], "batch1": [1, 3, 48, None]}[layout]
    directory.mkdir(parents=True)
    paddle.jit.save(Net(), str(directory / "inference"),
                    input_spec=[paddle.static.InputSpec(shape, "float32", "x")])
    write_model_yaml(directory, "bad", "0", tiny_models.CHARACTERS, read_model_yaml(MODEL).preprocess)
    return directory


@pytest.mark.paddle
@pytest.mark.parametrize("layout", ["nhwc", "gray"])
def test_paddle_model_with_wrong_input_layout(tmp_path: Path, layout: str) -> None:
    pytest.importorskip("paddle")
    directory = _paddle_tiny(tmp_path / "m", layout)
    _load_fails(directory, "paddle", r"rejects input of shape \(1, 3, 48, \d+\)")


@pytest.mark.paddle
def test_paddle_model_exported_for_batch_1(tmp_path: Path) -> None:
    """Refused at load, or reads lists as it reads single images: never a failure on the first list."""
    pytest.importorskip("paddle")
    directory = _paddle_tiny(tmp_path / "m", "batch1")
    try:
        reader = PlateRecognizer(directory, backend="paddle")
    except ModelError as exc:
        assert "variable N and W" in str(exc)
        return
    images = [tiny_models.stripe_image(t) for t in ("ABC-1234", "AB-12", "外0872")]
    assert reader(images) == [reader(image) for image in images]


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
@pytest.mark.parametrize("shape", [("N", 48, "W", 3), ("N", 1, 48, "W"), ("N", 3, 48, 320), ("N", 3, 32, "W"),
                                   (1, 3, 48, "W")],
                         ids=["nhwc", "one-channel", "fixed-width", "height-32", "batch-1"])
def test_onnx_model_with_wrong_input_layout(tmp_path: Path, shape: tuple, backend: str) -> None:
    pytest.importorskip("onnx")
    directory = tmp_path / "m"
    tiny_models.build_onnx(directory / ONNX_FILE, input_shape=shape)
    write_model_yaml(directory, "bad", "0", tiny_models.CHARACTERS, read_model_yaml(MODEL).preprocess)
    refused = r"expected \(N, 3, 48, W\)"
    if backend == "openvino":  # its ONNX reader may refuse the graph itself (shape inference fails on NHWC)
        refused += "|openvino cannot load"
    _load_fails(directory, backend, refused)


def test_a_loaded_model_reads_sensibly(broken: Path) -> None:
    """The control: the untouched copy loads on every backend and reads a sample the same way."""
    import cv2

    samples = Path(__file__).resolve().parents[1] / "samples"  # the repository's, wherever the model is installed
    first = (samples / "labels.tsv").read_text(encoding="utf-8").split("\t", 1)[0]
    image = cv2.imread(str(samples / first))
    shipped = PlateRecognizer(backend="onnxruntime")(image).text
    texts = {PlateRecognizer(broken, backend="onnxruntime")(image).text}
    for backend in ("paddle", "openvino"):
        if _installed(backend):
            texts.add(PlateRecognizer(broken, backend=backend)(image).text)
    assert shipped and texts == {shipped}
    assert np.isfinite(PlateRecognizer(broken)(image).confidence)


def _installed(package: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(package) is not None
