"""Model directories: inference.yml round trip, ONNX metadata, and every way a model can be broken."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import tiny_models
from twplate import PlateRecognizer
from twplate.errors import ModelError
from twplate.model_files import (
    FAST_MODEL,
    ONNX_FILE,
    YAML_FILE,
    DetectorSpec,
    ModelSpec,
    default_detector_dir,
    default_model_dir,
    fast_model_dir,
    load_detector_spec,
    load_model_spec,
    onnx_metadata_props,
    read_model_yaml,
    sha256_file,
    spec_from_onnx,
    write_model_yaml,
)
from twplate.onnx_metadata import read_onnx_metadata
from twplate.preprocess import PreprocessConfig


def test_yaml_round_trip(tiny_model_dir: Path) -> None:
    spec = read_model_yaml(tiny_model_dir)
    assert spec.name == "tiny" and spec.version == "0"
    assert spec.charset.characters == tiny_models.CHARACTERS
    assert spec.charset.num_classes == 44
    assert spec.preprocess == tiny_models.PREPROCESS
    assert spec.input_name == "x"
    assert spec.checksums[ONNX_FILE] == hashlib.sha256((tiny_model_dir / ONNX_FILE).read_bytes()).hexdigest()


def test_yaml_layout_matches_the_documented_format(tiny_model_dir: Path) -> None:
    doc = yaml.safe_load((tiny_model_dir / YAML_FILE).read_text(encoding="utf-8"))
    assert list(doc) == ["name", "version", "input", "character", "decode", "Global", "PreProcess", "PostProcess",
                         "files"]
    assert doc["decode"] == {"plate_formats": False}
    assert doc["input"] == {"name": "x", "layout": "NCHW", "channels": "BGR", "height": 48,
                            "min_width": 160, "max_width": 320, "mean": 0.5, "std": 0.5}
    assert doc["character"][:3] == ["0", "1", "2"]  # strings, not YAML integers
    assert doc["character"][-1] == "臨"
    assert set(doc["files"]) == {ONNX_FILE}


def test_yaml_carries_the_sections_paddleocr_3_reads(tiny_model_dir: Path) -> None:
    """PaddleOCR 3 reads the same file: its model name, BGR input by aspect padded to min_width, the dictionary."""
    text = (tiny_model_dir / YAML_FILE).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["Global"] == {"model_name": "PP-OCRv3_mobile_rec"}
    assert doc["PreProcess"]["transform_ops"] == [
        {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}},
        {"RecResizeImg": {"image_shape": [3, 48, 160]}},  # the tiny model's min_width
    ]
    assert doc["PostProcess"] == {"name": "CTCLabelDecode", "character_dict": doc["character"]}
    assert text.count("- 臨") == 1  # the dictionary is written once; PostProcess refers to it


def test_onnx_metadata_reader_agrees_with_onnx(tiny_model_dir: Path) -> None:
    onnx = pytest.importorskip("onnx")
    expected = {p.key: p.value for p in onnx.load(str(tiny_model_dir / ONNX_FILE)).metadata_props}
    assert read_onnx_metadata(tiny_model_dir / ONNX_FILE) == expected
    assert json.loads(expected["preprocess"])["layout"] == "NCHW"


def test_onnx_metadata_props_format() -> None:
    props = onnx_metadata_props("AB臨", PreprocessConfig(), "m", "1.2")
    assert props["character"] == "A\nB\n臨"
    assert json.loads(props["preprocess"])["max_width"] == 320
    assert (props["name"], props["version"]) == ("m", "1.2")


def test_bare_onnx_file_uses_its_metadata(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.onnx"
    path.write_bytes((tiny_model_dir / ONNX_FILE).read_bytes())
    spec = load_model_spec(path)
    assert spec.charset.characters == tiny_models.CHARACTERS
    assert spec.onnx_file == "elsewhere.onnx" and spec.checksums == {}
    assert PlateRecognizer(path)(tiny_models.stripe_image("AB-12")).text == "AB-12"


def test_onnx_file_inside_model_dir_resolves_to_dir(tiny_model_dir: Path) -> None:
    spec = load_model_spec(tiny_model_dir / ONNX_FILE)
    assert spec.checksums  # from inference.yml
    assert load_model_spec(tiny_model_dir / YAML_FILE).directory == tiny_model_dir


def test_default_model_dir_is_the_shipped_one() -> None:
    assert default_model_dir().parts[-2:] == ("models", "twplate-rec")


def test_a_shipped_models_name_resolves_to_its_folder(tiny_model_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """``model="twplate-rec-fast"`` finds the shipped folder from any working directory; a folder of that name
    where the caller runs is a path and wins; a name that is neither says what was asked for."""
    monkeypatch.chdir(tmp_path)
    assert load_model_spec(FAST_MODEL).directory == fast_model_dir()
    assert load_model_spec(FAST_MODEL).name == FAST_MODEL
    assert load_detector_spec("twplate-det").directory == default_detector_dir()
    shutil.copytree(tiny_model_dir, tmp_path / FAST_MODEL)
    assert load_model_spec(FAST_MODEL).directory == Path(FAST_MODEL)
    with pytest.raises(ModelError, match="no model at twplate-rec-nothing"):
        load_model_spec("twplate-rec-nothing")
    with pytest.raises(ModelError, match="is a det model"):
        load_model_spec("twplate-det")


def test_both_kinds_hold_the_file_fields_and_take_them_by_keyword(tiny_model_dir: Path) -> None:
    """A reader and a detector both describe their files (name, directory, checksums, ONNX file name, input
    name) and check them the same way; past the required fields, every field is passed by keyword."""
    reader, detector = load_model_spec(tiny_model_dir), load_detector_spec()
    for spec in (reader, detector):
        assert spec.input_name == "x" and spec.onnx_file == ONNX_FILE and set(spec.checksums) >= {ONNX_FILE}
        assert spec.require([ONNX_FILE]) == [spec.directory / ONNX_FILE] and not spec.has(["absent.onnx"])
    assert ModelSpec(reader.name, reader.version, reader.directory, reader.charset, reader.preprocess,
                     checksums=reader.checksums, plate_formats=reader.plate_formats,
                     calibration=reader.calibration) == reader
    assert DetectorSpec(detector.name, detector.version, detector.directory, detector.preprocess,
                        checksums=detector.checksums) == detector
    with pytest.raises(TypeError):
        ModelSpec(reader.name, reader.version, reader.directory, reader.charset, reader.preprocess, "x")


# ---------------------------------------------------------------- broken models

def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model at"):
        load_model_spec(tmp_path / "nothing")


def test_directory_without_yaml(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="inference.yml is missing"):
        load_model_spec(tmp_path)


def test_missing_onnx_file(model_copy: Path) -> None:
    (model_copy / ONNX_FILE).unlink()
    with pytest.raises(ModelError, match="inference.onnx is missing"):
        PlateRecognizer(model_copy, backend="onnxruntime")


def test_checksum_mismatch(model_copy: Path) -> None:
    data = bytearray((model_copy / ONNX_FILE).read_bytes())
    data[-1] ^= 0xFF
    (model_copy / ONNX_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        PlateRecognizer(model_copy, backend="onnxruntime")


def test_truncated_onnx_with_fresh_checksums(model_copy: Path) -> None:
    """A corrupt file whose checksum was (wrongly) regenerated still fails at load, not later."""
    path = model_copy / ONNX_FILE
    path.write_bytes(path.read_bytes()[:400])
    write_model_yaml(model_copy, "tiny", "0", tiny_models.CHARACTERS, tiny_models.PREPROCESS)
    with pytest.raises(ModelError, match="onnxruntime cannot load"):
        PlateRecognizer(model_copy, backend="onnxruntime")


def test_truncated_bare_onnx(tiny_model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.onnx"
    path.write_bytes((tiny_model_dir / ONNX_FILE).read_bytes()[:-50])
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        load_model_spec(path)


def test_garbage_onnx(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\x01 not protobuf at all" * 10)
    with pytest.raises(ModelError):
        PlateRecognizer(path)


def test_onnx_without_dictionary_metadata(tmp_path: Path) -> None:
    path = tiny_models.build_onnx(tmp_path / "m.onnx", metadata=False)
    with pytest.raises(ModelError, match="no 'character' metadata"):
        load_model_spec(path)


def test_dictionary_size_mismatch(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    tiny_models.build_onnx(directory / ONNX_FILE, num_classes=50, metadata=False)
    write_model_yaml(directory, "bad", "0", tiny_models.CHARACTERS, PreprocessConfig())
    with pytest.raises(ModelError, match=r"outputs 50 classes.*43 characters"):
        PlateRecognizer(directory)


def test_yaml_dictionary_differs_from_onnx_metadata(model_copy: Path) -> None:
    swapped = list(tiny_models.CHARACTERS)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    write_model_yaml(model_copy, "tiny", "0", swapped, tiny_models.PREPROCESS)
    with pytest.raises(ModelError, match="dictionary in its metadata differs"):
        PlateRecognizer(model_copy)


@pytest.mark.parametrize("shape", [("N", 48, "W", 3), ("N", 3, 48, 320), ("N", 1, 48, "W"), ("N", 3, 32, "W")])
def test_wrong_input_layout(tmp_path: Path, shape: tuple) -> None:
    directory = tmp_path / "m"
    tiny_models.build_onnx(directory / ONNX_FILE, input_shape=shape)
    write_model_yaml(directory, "bad", "0", tiny_models.CHARACTERS, PreprocessConfig())
    with pytest.raises(ModelError, match=r"expected \(N, 3, 48, W\)"):
        PlateRecognizer(directory)


def test_logits_instead_of_probabilities(tmp_path: Path) -> None:
    directory = tmp_path / "m"
    tiny_models.build_onnx(directory / ONNX_FILE, softmax=False)
    write_model_yaml(directory, "bad", "0", tiny_models.CHARACTERS, PreprocessConfig())
    with pytest.raises(ModelError, match="does not output probabilities"):
        PlateRecognizer(directory)


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d.pop("character"), "missing field 'character'"),
    (lambda d: d.update(character="0123"), "must be a list"),
    (lambda d: d.update(character=["A", "A"]), "duplicate"),
    (lambda d: d["input"].update(layout="NHWC"), "unsupported input layout"),
    (lambda d: d["input"].update(channels="RGB"), "unsupported input layout"),
    (lambda d: d["files"].update({ONNX_FILE: "abc"}), "sha256"),
    (lambda d: d["input"].update(min_width=0), "invalid input spec"),
])
def test_invalid_yaml_fields(model_copy: Path, edit, match: str) -> None:
    path = model_copy / YAML_FILE
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ModelError, match=match):
        read_model_yaml(model_copy)


def test_yaml_is_parsed_safely(model_copy: Path) -> None:
    (model_copy / YAML_FILE).write_text("!!python/object/apply:os.system ['echo pwned']\n", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot read"):
        read_model_yaml(model_copy)


def test_write_model_yaml_needs_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model files"):
        write_model_yaml(tmp_path, "x", "0", "AB", PreprocessConfig())


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(np.arange(3_000_000, dtype=np.uint8).tobytes())  # more than one 1 MiB chunk
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_spec_from_onnx_bad_preprocess_metadata(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    path = tiny_models.build_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "preprocess":
            prop.value = json.dumps({"layout": "NHWC"})
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="unsupported input layout"):
        spec_from_onnx(path)
