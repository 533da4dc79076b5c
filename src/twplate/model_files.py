"""Model directories: find them, describe them (``inference.yml``), verify their checksums.

Two kinds share the layout and this loader, told apart by ``task`` in ``inference.yml``: ``rec``
(the default; a plate reader, :class:`ModelSpec`) and ``det`` (a text detector, :class:`DetectorSpec`).

A model directory holds::

    inference.onnx                          ONNX model, for the onnxruntime backend
    inference.json + inference.pdiparams    Paddle 3 inference model, for the paddle backend
    inference.xml + inference.bin           OpenVINO IR (optional; the openvino backend reads it
                                            instead of the ONNX file; an int8 model has only this)
    inference.yml                           name, version, input spec, dictionary, sha256 of each file

``inference.yml`` looks like::

    name: twplate-rec
    version: "1.0"
    input: {name: x, layout: NCHW, channels: BGR, height: 48, min_width: 80, max_width: 320, mean: 0.5, std: 0.5}
    character: &id001 ["0", "1", ..., "臨"]  # without the blank: class i + 1 of the output is character[i]
    decode: {plate_formats: true}         # readings may be fitted to Taiwan plate formats
    confidence: {score: product, method: platt, slope: .., intercept: .., review_below: ..}   # optional
    Global: {model_name: PP-OCRv3_mobile_rec}    # PaddleOCR 3 (PaddleX) reads these three sections,
    PreProcess: {transform_ops: [{DecodeImage: {img_mode: BGR, ...}}, {RecResizeImg: {image_shape: [3, 48, 80]}}]}
    PostProcess: {name: CTCLabelDecode, character_dict: *id001}  # twplate ignores them (docs/paddleocr.md)
    files: {inference.onnx: <sha256>, inference.json: <sha256>, inference.pdiparams: <sha256>}

A detector's ``inference.yml`` has ``task: det``, no ``character`` or ``decode``, and an input section
of :class:`~twplate.detect.preprocess.DetectPreprocessConfig`::

    name: twplate-det
    version: "1.0"
    task: det
    input: {name: x, layout: NCHW, channels: BGR, limit_side: 1600, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}
    files: {inference.onnx: <sha256>}

The ONNX file of a reader carries the same dictionary and input spec in its ``metadata_props`` (``character``:
characters joined by newlines; ``preprocess``: JSON of the ``input`` section; ``confidence``: JSON of the
confidence map, where the exporter knew one), so a bare ``.onnx`` file can be loaded too, without checksums.
Exporters write both with :func:`write_model_yaml` and :func:`onnx_metadata_props`. Files are read with
``yaml.safe_load`` and JSON only; nothing is fetched. The shipped ``inference.onnx`` was exported before its
map was fitted: copied out of its folder, it reads uncalibrated confidences.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from ._paths import shipped_path
from .charset import Charset
from .confidence import Calibration
from .detect.preprocess import DetectPreprocessConfig
from .errors import ModelError
from .onnx_metadata import read_onnx_metadata
from .preprocess import PreprocessConfig

DEFAULT_MODEL = "twplate-rec"
DEFAULT_DETECTOR = "twplate-det"
DEFAULT_SMALL_MODEL = "twplate-rec-small"
FAST_MODEL = "twplate-rec-fast"
FAST_INT8_MODEL = "twplate-rec-fast-int8"
"""``twplate-rec-fast`` quantized for OpenVINO on CPUs with VNNI or AMX, reading every crop at 48 x 72."""
TASKS = ("rec", "det")
YAML_FILE = "inference.yml"
ONNX_FILE = "inference.onnx"
PADDLE_FILES = ("inference.json", "inference.pdiparams")
OPENVINO_FILES = ("inference.xml", "inference.bin")
MODEL_FILES = (ONNX_FILE, *PADDLE_FILES, *OPENVINO_FILES)
LAYOUT = "NCHW"
CHANNELS = "BGR"
# PaddleOCR 3 loads a model directory only under a model name it knows; this one is the architecture.
PADDLEX_MODEL_NAME = "PP-OCRv3_mobile_rec"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class _ModelDirectory:
    """What both kinds of model description hold and do with their files (the fields are documented
    in :class:`ModelSpec`). Fields after ``directory`` are keyword-only, here and in the kinds."""

    name: str
    version: str
    directory: Path
    _: KW_ONLY
    input_name: str = "x"
    checksums: Mapping[str, str] = field(default_factory=dict)
    onnx_file: str = ONNX_FILE
    task: ClassVar[str]

    def require(self, filenames: Iterable[str]) -> list[Path]:
        """Paths of ``filenames`` in the model directory, each checked to exist and match its checksum.

        Raises:
            ModelError: a file is missing or its sha256 differs from ``inference.yml``.
        """
        paths = []
        for filename in filenames:
            path = self.directory / filename
            if not path.is_file():
                raise ModelError(f"model {self.name!r}: {filename} is missing from {self.directory}")
            expected = self.checksums.get(filename)
            if expected is not None:
                actual = sha256_file(path)
                if actual != expected:
                    raise ModelError(f"model {self.name!r}: checksum mismatch for {path} (sha256 {actual}, "
                                     f"{YAML_FILE} says {expected}); the file is corrupt or was replaced")
            paths.append(path)
        return paths

    def has(self, filenames: Iterable[str]) -> bool:
        """True if all ``filenames`` exist in the model directory (checksums not checked)."""
        return all((self.directory / f).is_file() for f in filenames)


@dataclass(frozen=True)
class ModelSpec(_ModelDirectory):
    """Everything about a model except its weights: where its files are and how to feed and read it.

    Attributes:
        name, version: from ``inference.yml`` (or the ONNX metadata).
        directory: the folder holding the model files.
        charset: the dictionary; the output has ``charset.num_classes`` classes.
        preprocess: input height, width range and normalisation.
        input_name: name of the model's image input.
        checksums: sha256 of each file, by file name; empty for a bare ``.onnx`` file.
        onnx_file: file name of the ONNX model inside ``directory``.
        plate_formats: the model reads Taiwan plates, so decoding may fit readings to plate formats
            (:mod:`twplate.decode.formats`); ``decode: {plate_formats: true}`` in ``inference.yml``.
        calibration: the map from character confidences to plate confidence
            (:mod:`twplate.confidence`); ``None``: the raw product.
    """

    charset: Charset
    preprocess: PreprocessConfig
    _: KW_ONLY
    plate_formats: bool = False
    calibration: Calibration | None = None
    task: ClassVar[str] = "rec"


@dataclass(frozen=True)
class DetectorSpec(_ModelDirectory):
    """A text detector's description: ``(N, 3, H, W)`` BGR in, ``(N, 1, H, W)`` text probability out.

    Attributes:
        name, version, directory, input_name, checksums, onnx_file: as :class:`ModelSpec`'s.
        preprocess: the input's size limit and normalisation.
    """

    preprocess: DetectPreprocessConfig
    task: ClassVar[str] = "det"


AnySpec = ModelSpec | DetectorSpec



def default_model_dir() -> Path:
    """The plate reader shipped with twplate."""
    return shipped_path("models", DEFAULT_MODEL)


def default_small_model_dir() -> Path:
    """The plate reader shipped for small boxes in photos (far plates), :class:`~twplate.photo.PhotoReader`'s."""
    return shipped_path("models", DEFAULT_SMALL_MODEL)


def fast_model_dir() -> Path:
    """The shallower plate reader shipped for speed (three of the backbone's five middle blocks; docs/openvino.md)."""
    return shipped_path("models", FAST_MODEL)


def default_detector_dir() -> Path:
    """The text detector shipped with twplate."""
    return shipped_path("models", DEFAULT_DETECTOR)


def load_model_spec(model: str | os.PathLike[str] | None = None) -> ModelSpec:
    """Resolve a plate reader ``model``: ``None`` (the shipped default), a shipped model's name
    (``"twplate-rec-fast"``), a model directory, or an ``.onnx`` file.

    A name is looked up in the shipped ``models/`` only where no file or folder of that name exists. A path
    to a file inside a model directory that ``inference.yml`` lists resolves to that directory.

    Raises:
        ModelError: the path does not exist or does not describe a valid plate reader.
    """
    return _load_spec(model, ModelSpec)


def load_detector_spec(model: str | os.PathLike[str] | None = None) -> DetectorSpec:
    """Resolve a text detector ``model`` as :func:`load_model_spec` does a reader (``None`` = the shipped one).

    Raises:
        ModelError: the path does not exist or does not describe a valid detector.
    """
    return _load_spec(model, DetectorSpec)


def _load_spec(model: str | os.PathLike[str] | None, kind: type[ModelSpec] | type[DetectorSpec]) -> Any:
    path = _model_path(model, kind)
    spec: AnySpec | None = None
    if path.is_file() and (path.parent / YAML_FILE).is_file():
        candidate = read_model_yaml(path.parent)
        if path.name == YAML_FILE or path.name in candidate.checksums:
            spec = candidate
    if spec is None and path.is_dir():
        spec = read_model_yaml(path)
    if spec is None and path.is_file() and path.suffix.lower() == ".onnx":
        spec = spec_from_onnx(path)
    if spec is None:
        if not path.exists():
            hint = " (the shipped default model is missing: reinstall twplate)" if model is None else ""
            raise ModelError(f"no model at {path}{hint}")
        raise ModelError(f"{path} is neither a model directory nor an .onnx file")
    if spec.task != kind.task:
        raise ModelError(f"model {spec.name!r} at {path} is a {spec.task} model (task: {spec.task}), "
                         f"expected a {kind.task} model")
    return spec


def _model_path(model: str | os.PathLike[str] | None, kind: type[ModelSpec] | type[DetectorSpec]) -> Path:
    """The path ``model`` names: the shipped default for ``None``, the shipped folder for a bare name that is not
    a file or folder here (``"twplate-rec-fast"``), else the path as given."""
    if model is None:
        return default_model_dir() if kind is ModelSpec else default_detector_dir()
    path = Path(model)
    shipped = shipped_path("models", path.name)
    if not path.exists() and str(model) == path.name and shipped.is_dir():
        return shipped
    return path


def read_model_yaml(directory: str | os.PathLike[str]) -> AnySpec:
    """Read and validate ``<directory>/inference.yml``: a :class:`ModelSpec`, or a :class:`DetectorSpec`
    for ``task: det``.

    Raises:
        ModelError: the file is missing, not valid YAML, or a field is missing or invalid.
    """
    directory = Path(directory)
    path = directory / YAML_FILE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{directory} is not a model directory: {YAML_FILE} is missing") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    try:
        files = doc.get("files") or {}
        if not isinstance(files, dict) or not all(isinstance(v, str) and _SHA256.match(v) for v in files.values()):
            raise ValueError("'files' must map file names to sha256 hex digests")
        input_section = doc["input"]
        task = doc.get("task", "rec")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {task!r}")
        if task == "det":
            return DetectorSpec(
                name=str(doc["name"]),
                version=str(doc["version"]),
                directory=directory,
                preprocess=_detect_preprocess(input_section),
                input_name=str(input_section.get("name", "x")),
                checksums={str(k): v for k, v in files.items()},
            )
        return ModelSpec(
            name=str(doc["name"]),
            version=str(doc["version"]),
            directory=directory,
            charset=_charset(doc["character"]),
            preprocess=_preprocess(input_section),
            input_name=str(input_section.get("name", "x")),
            checksums={str(k): v for k, v in files.items()},
            plate_formats=bool((doc.get("decode") or {}).get("plate_formats", False)),
            calibration=Calibration.from_dict(doc["confidence"]) if doc.get("confidence") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ModelError(f"{path}: {detail}") from exc


def spec_from_onnx(path: str | os.PathLike[str]) -> ModelSpec:
    """Describe a bare ``.onnx`` file from its ``character`` and ``preprocess`` metadata.

    Raises:
        ModelError: the file is truncated or not ONNX, or lacks the ``character`` metadata.
    """
    path = Path(path)
    try:
        meta = read_onnx_metadata(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is not a readable ONNX model: {exc}") from exc
    if "character" not in meta:
        raise ModelError(f"{path} has no 'character' metadata: pass its model directory (with {YAML_FILE}) instead")
    try:
        input_section = json.loads(meta.get("preprocess", "{}"))
        return ModelSpec(
            name=meta.get("name", path.stem),
            version=meta.get("version", "unknown"),
            directory=path.parent,
            charset=_charset(meta["character"].split("\n")),
            preprocess=_preprocess(input_section),
            input_name=str(input_section.get("name", "x")),
            onnx_file=path.name,
            plate_formats=meta.get("plate_formats") == "true",
            calibration=Calibration.from_dict(json.loads(meta["confidence"])) if meta.get("confidence") else None,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"{path}: invalid metadata: {exc}") from exc


def write_model_yaml(
    directory: str | os.PathLike[str],
    name: str,
    version: str,
    characters: Sequence[str],
    preprocess: PreprocessConfig,
    input_name: str = "x",
    plate_formats: bool = False,
    calibration: Calibration | None = None,
) -> Path:
    """Write ``<directory>/inference.yml`` with the sha256 of each model file present there (and the
    ``confidence`` section of ``calibration``, when given: a model exported from a calibrated one keeps its map).

    Call it after the model files are final: the checksums are taken now.
    Returns the path written.
    """
    character = list(Charset.from_iterable(characters).characters)
    doc = {
        "name": name,
        "version": str(version),
        "input": input_section(preprocess, input_name),
        "character": character,
        "decode": {"plate_formats": plate_formats},
        **({"confidence": calibration.to_dict()} if calibration is not None else {}),
        **paddlex_sections(character, preprocess),
    }
    return _write_yaml(Path(directory), doc)


def write_detector_yaml(directory: str | os.PathLike[str], name: str, version: str,
                        preprocess: DetectPreprocessConfig, input_name: str = "x") -> Path:
    """Write a detector's ``<directory>/inference.yml`` (``task: det``), as :func:`write_model_yaml` does a reader's."""
    doc = {
        "name": name,
        "version": str(version),
        "task": "det",
        "input": {"name": input_name, "layout": LAYOUT, "channels": CHANNELS, **preprocess.to_dict()},
    }
    return _write_yaml(Path(directory), doc)


def _write_yaml(directory: Path, doc: dict[str, Any]) -> Path:
    """``doc`` plus the sha256 of each model file present in ``directory``, written as ``inference.yml``."""
    present = [f for f in MODEL_FILES if (directory / f).is_file()]
    if not present:
        raise ModelError(f"no model files ({', '.join(MODEL_FILES)}) in {directory}")
    doc = {**doc, "files": {f: sha256_file(directory / f) for f in present}}
    path = directory / YAML_FILE
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=4096), encoding="utf-8")
    return path


def onnx_metadata_props(
    characters: Sequence[str], preprocess: PreprocessConfig, name: str, version: str, input_name: str = "x",
    plate_formats: bool = False,
) -> dict[str, str]:
    """The ``metadata_props`` an exported ONNX model carries (``character``, ``preprocess``, ``name``,
    ``version``, ``plate_formats``)."""
    return {
        "plate_formats": "true" if plate_formats else "false",
        "character": "\n".join(Charset.from_iterable(characters).characters),
        "preprocess": json.dumps(input_section(preprocess, input_name), ensure_ascii=False),
        "name": name,
        "version": str(version),
    }


def input_section(preprocess: PreprocessConfig, input_name: str = "x") -> dict[str, Any]:
    """The ``input`` section of ``inference.yml`` (also the ONNX ``preprocess`` metadata)."""
    return {"name": input_name, "layout": LAYOUT, "channels": CHANNELS, **preprocess.to_dict()}


def paddlex_sections(character: list[str], preprocess: PreprocessConfig) -> dict[str, Any]:
    """The sections of ``inference.yml`` that PaddleOCR 3 reads (``TextRecognition(model_dir=...)``).

    BGR images resized by aspect to ``height``, padded to at least ``min_width`` (PaddleOCR pads
    narrower images where twplate stretches them), greedy CTC over ``character``; the same list
    object as the ``character`` section, so the YAML holds it once (an alias).
    """
    return {
        "Global": {"model_name": PADDLEX_MODEL_NAME},
        "PreProcess": {"transform_ops": [
            {"DecodeImage": {"channel_first": False, "img_mode": CHANNELS}},
            {"RecResizeImg": {"image_shape": [3, preprocess.height, preprocess.min_width]}},
        ]},
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": character},
    }


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _charset(characters: Any) -> Charset:
    if isinstance(characters, str) or not isinstance(characters, Sequence):
        raise ValueError("'character' must be a list of characters")
    return Charset.from_iterable(characters)


def _input_section(section: Any) -> dict:
    """The ``input`` mapping of ``inference.yml``, checked to be in the layout twplate feeds."""
    if not isinstance(section, dict):
        raise ValueError("the input spec must be a mapping")
    layout, channels = section.get("layout", LAYOUT), section.get("channels", CHANNELS)
    if layout != LAYOUT or channels != CHANNELS:
        raise ValueError(f"unsupported input layout {layout}/{channels}: twplate feeds {LAYOUT} {CHANNELS}")
    return section


def _preprocess(section: Any) -> PreprocessConfig:
    cfg = PreprocessConfig.from_dict(_input_section(section))
    if not (0 < cfg.min_width <= cfg.max_width) or cfg.height <= 0 or cfg.std == 0:
        raise ValueError(f"invalid input spec {cfg}")
    return cfg


def _detect_preprocess(section: Any) -> DetectPreprocessConfig:
    return DetectPreprocessConfig.from_dict(_input_section(section))
