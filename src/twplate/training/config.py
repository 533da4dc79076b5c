"""Training configuration: typed sections read from YAML, and the settings a checkpoint's run leaves behind.

A config file has PaddleOCR's section names (``Global``, ``Architecture``, ``Optimizer``, ``Data``,
``Preprocess``) and ``twplate train -o Section.key=value`` overrides any key. Each section is a
dataclass whose fields are the keys it accepts, with their defaults: a key a section does not have,
or a value of the wrong type, stops loading with a message naming ``Section.key``. A run's
``config.yml`` is the loaded config written back, so a checkpoint's settings
(:class:`RunSettings`) are read from it, the defaults filling what an older run's file lacks.

This module imports nothing from the rest of ``twplate.training``: everything there imports it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from twplate.charset import default_dictionary_path
from twplate.errors import CheckpointError
from twplate.preprocess import PreprocessConfig


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the section and key."""


@dataclass
class RunSection:
    """``Global`` keys every training run has; the recognizer's and the detector's sections set their defaults."""

    output_dir: str
    init: str = "pretrained"  # "pretrained" (the public PP-OCRv3 weights of rapidocr_onnxruntime) or a .pdparams
    seed: int = 0
    total_steps: int = 6000
    log_every: int = 10
    eval_every: int = 250
    threads: int = 2  # math threads in all, shared by the worker processes
    workers: int = 2  # data-parallel processes (CPU)

    def __post_init__(self) -> None:
        for name in ("total_steps", "log_every", "eval_every", "threads", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Global.{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class GlobalSection(RunSection):
    """The recognizer's ``Global``: ``init`` may also be a twplate ``.onnx`` (start from a shipped model's weights)."""

    output_dir: str = "runs/twplate-rec"
    character_dict: str = field(default_factory=lambda: str(default_dictionary_path()))
    use_guide: bool = False


ARCHITECTURES = ("ppocrv3", "ppocrv4")
"""The recognizers twplate trains (:mod:`twplate.training.model`): the PP-OCRv3 Student (shipped) and PP-OCRv4's."""
MIDDLE_BLOCKS = 5
"""PP-OCRv3's backbone has five identical 256-channel blocks between its last downsamplings; a run may keep
fewer (``Architecture.middle_blocks``)."""


@dataclass
class ArchitectureSection:
    model_type: str = "rec"  # PaddleOCR's key: "rec" (this config) or "det" (DetTrainConfig)
    # input pixels per CTC step: 8 (PP-OCRv3) or 4 (reads plates at their natural width)
    time_stride: int = 8
    name: str = "ppocrv3"  # one of ARCHITECTURES
    # ppocrv3 only: how many of the backbone's five middle blocks to keep (fewer: a faster model)
    middle_blocks: int = MIDDLE_BLOCKS

    def __post_init__(self) -> None:
        _check_model_type(self.model_type, "rec", "a recognizer")
        if self.name not in ARCHITECTURES:
            raise ConfigError(f"Architecture.name must be one of {ARCHITECTURES}, not {self.name!r}")
        if not 1 <= self.middle_blocks <= MIDDLE_BLOCKS:
            raise ConfigError(f"Architecture.middle_blocks must be between 1 and {MIDDLE_BLOCKS}, "
                              f"not {self.middle_blocks}")
        if self.middle_blocks != MIDDLE_BLOCKS and self.name != "ppocrv3":
            raise ConfigError(f"Architecture.middle_blocks is a ppocrv3 setting; {self.name} has none to drop")


@dataclass
class OptimizerSection:
    """The recognizer's defaults; :class:`DetOptimizerSection` has the detector's."""

    lr: float = 5.0e-4
    warmup_steps: int = 200
    l2: float = 3.0e-5
    batch_size: int = 32  # in all, over the worker processes

    def __post_init__(self) -> None:
        if not self.lr > 0 or self.warmup_steps < 0 or self.batch_size < 1:
            raise ConfigError(f"Optimizer needs lr > 0, warmup_steps >= 0 and batch_size >= 1, got lr {self.lr}, "
                              f"warmup_steps {self.warmup_steps}, batch_size {self.batch_size}")


@dataclass
class TrainSource:
    label_file: str
    weight: float = 1.0  # relative share of each batch
    label_fixes: str | None = None  # reviewed corrections applied on top (data/label_fixes.tsv), each logged


@dataclass
class DataSection:
    """Label files, augmentation, and the widths training batches are resized to.

    ``min_width_range: [lo, hi]``: each batch's width floor is drawn from lo, lo+s, ..., hi (s: the time
    stride, one CTC step). ``fixed_width_range: [lo, hi]``: each batch is resized to one width drawn from
    that range whatever the plates' aspect (for a model read at a fixed width). Neither: ``Preprocess``
    as it is. The two exclude each other.
    """

    train: list[TrainSource] = field(default_factory=list)
    val: str | None = None
    augment_prob: float = 0.0  # share of crops through twplate.training.augment
    tilt_max_deg: float = 35.0  # augment's strongest in-plane tilt, in degrees (augment.TILT_MAX_DEG)
    far_prob: float = 0.0  # share of augmented crops shrunk to a far plate's height (augment.far)
    min_width_range: tuple[int, int] | None = None
    fixed_width_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.augment_prob <= 1.0:
            raise ConfigError(f"Data.augment_prob must be in [0, 1], got {self.augment_prob}")
        if not 0 < self.tilt_max_deg < 90:
            raise ConfigError(f"Data.tilt_max_deg must be between 0 and 90 degrees, got {self.tilt_max_deg}")
        if not 0.0 <= self.far_prob <= 1.0:
            raise ConfigError(f"Data.far_prob must be in [0, 1], got {self.far_prob}")
        if self.min_width_range and self.fixed_width_range:
            raise ConfigError("Data.min_width_range and Data.fixed_width_range exclude each other; set one")
        for name in ("min_width_range", "fixed_width_range"):
            span = getattr(self, name)
            if span and not 0 < span[0] <= span[1]:
                raise ConfigError(f"Data.{name} must be [lo, hi] with 0 < lo <= hi, got {list(span)}")


@dataclass
class DistillSection:
    """Distillation from a trained teacher: ``teacher`` is a recognizer run's ``.pdparams`` (its run's
    ``config.yml`` beside it says its architecture, often ``ppocrv4``), with this run's dictionary and time
    stride, or a twplate model's ``inference.onnx`` (this run's architecture at full depth, as
    ``Global.init`` reads one). Each step's loss adds ``weight`` times the KL divergence from the teacher's
    probabilities to the model's on the same augmented batch, summed over a crop's CTC steps (as PaddleOCR's
    DML loss is) and averaged over the crops, as the CTC loss is.

    ``feature_weight`` (0: off) weighs a second term, the mean squared difference between the model's
    backbone features and the teacher's (FitNets' hint): for a network cut from its teacher, the input the
    blocks it kept after the cut expect. It needs a teacher of this run's architecture. As in FitNets, the
    model's features are its training-mode ones (batch norms on the batch's statistics), the teacher's its
    inference ones."""

    teacher: str | None = None
    weight: float = 1.0
    feature_weight: float = 0.0

    def __post_init__(self) -> None:
        for name in ("weight", "feature_weight"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"Distill.{name} must be >= 0, got {getattr(self, name)}")


def _training_preprocess() -> PreprocessConfig:
    # PP-OCRv3's 8 px per CTC step needs a floor near 150 px (the library's default floor, 80, suits 4 px)
    return PreprocessConfig(min_width=160)


@dataclass
class TrainConfig:
    """A whole training config. The attributes carry the file's section names, as overrides spell them."""

    Global: GlobalSection = field(default_factory=GlobalSection)
    Architecture: ArchitectureSection = field(default_factory=ArchitectureSection)
    Optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    Data: DataSection = field(default_factory=DataSection)
    Preprocess: PreprocessConfig = field(default_factory=_training_preprocess)
    Distill: DistillSection = field(default_factory=DistillSection)

    def check(self) -> None:
        """What spans sections or keys, checked once every override is in (:func:`load_config`)."""
        pre, data = self.Preprocess, self.Data
        if self.Distill.feature_weight and self.Distill.teacher is None:
            raise ConfigError("Distill.feature_weight needs a Distill.teacher to regress onto")
        if data.min_width_range and data.min_width_range[1] > pre.max_width:  # floors, under the widest input
            raise ConfigError(f"Data.min_width_range {list(data.min_width_range)} reaches past Preprocess.max_width "
                              f"{pre.max_width}")
        if pre.min_width > pre.max_width:
            raise ConfigError(f"Preprocess.min_width {pre.min_width} is above Preprocess.max_width {pre.max_width}")

    @classmethod
    def from_dict(cls, sections: Mapping[str, Any]) -> TrainConfig:
        """Sections as read from YAML; what they leave out keeps its default."""
        return _build(cls, sections, "")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain sections, as ``config.yml`` stores them."""
        return _plain(asdict(self))


# ------------------------------------------------------------------ the detector's config
@dataclass
class DetGlobalSection(RunSection):
    output_dir: str = "runs/twplate-det"
    total_steps: int = 600
    eval_every: int = 100
    workers: int = 1


@dataclass
class DetArchitectureSection:
    model_type: str = "det"

    def __post_init__(self) -> None:
        _check_model_type(self.model_type, "det", "a detector")


@dataclass
class DetOptimizerSection(OptimizerSection):
    lr: float = 1.0e-4
    warmup_steps: int = 30
    l2: float = 1.0e-5
    batch_size: int = 8


@dataclass
class DetDataSection:
    """Where the detector's training photos come from (:mod:`twplate.training.det.data`).

    ``train_boxes``: real photos with their plates' number-line corners (``scripts/scene_boxes.py``),
    photos relative to ``photo_root``. ``val``: a ``twplate eval-photos`` labels file, read with
    :class:`~twplate.PhotoReader` at every evaluation (plate recall and false readings).
    """

    train_boxes: str | None = None
    photo_root: str | None = None
    sources: list[str] = field(default_factory=list)  # folders of photo_root to train on; empty: all
    synthetic_share: float = 0.6  # share of samples that are synthetic scenes
    other_text: str = "background"  # the synthetic scenes' plate-like text: "background" or "ignored"
    keep_text: bool = False  # outside plates, learn the public detector's own map: add plates, unlearn no text
    glyphs: str | None = None  # glyph folder for synthetic plates (../shared/data/glyphs)
    size: int = 512  # side of each training sample
    limit_side: int = 1280  # the input limit val photos are read at (the detector card's fine-tunes used 1280)
    val: str | None = None
    val_sources: list[str] = field(default_factory=list)  # folders of the val file to read; empty: all

    def __post_init__(self) -> None:
        if self.size % 32 or self.size < 64:
            raise ConfigError(f"Data.size must be a multiple of 32 and at least 64, got {self.size}")
        if not 0.0 <= self.synthetic_share <= 1.0:
            raise ConfigError(f"Data.synthetic_share must be in [0, 1], got {self.synthetic_share}")
        if self.other_text not in ("background", "ignored"):
            raise ConfigError(f"Data.other_text must be 'background' or 'ignored', got {self.other_text!r}")


@dataclass
class DetTrainConfig:
    """A detector training config (``Architecture.model_type: det``); same rules as :class:`TrainConfig`."""

    Global: DetGlobalSection = field(default_factory=DetGlobalSection)
    Architecture: DetArchitectureSection = field(default_factory=DetArchitectureSection)
    Optimizer: DetOptimizerSection = field(default_factory=DetOptimizerSection)
    Data: DetDataSection = field(default_factory=DetDataSection)

    def check(self) -> None:
        """Nothing spans the detector's sections (:meth:`TrainConfig.check`)."""

    @classmethod
    def from_dict(cls, sections: Mapping[str, Any]) -> DetTrainConfig:
        return _build(cls, sections, "")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return _plain(asdict(self))


AnyTrainConfig = TrainConfig | DetTrainConfig


def _check_model_type(value: str, expected: str, kind: str) -> None:
    if value != expected:
        raise ConfigError(f"Architecture.model_type is {value!r} in {kind} config")


def _config_class(sections: Mapping[str, Any]) -> type[TrainConfig] | type[DetTrainConfig]:
    architecture = sections.get("Architecture")
    if isinstance(architecture, Mapping) and architecture.get("model_type") == "det":
        return DetTrainConfig
    return TrainConfig


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> AnyTrainConfig:
    """The defaults, updated by the YAML file at ``path``, then by ``Section.key=value`` overrides.

    ``Architecture.model_type: det`` makes it a :class:`DetTrainConfig`, otherwise a :class:`TrainConfig`.
    Raises :class:`ConfigError` naming the file or override and the ``Section.key`` at fault.
    """
    sections: dict[str, Any] = {}
    if path:
        try:
            sections = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            config = _config_class(sections).from_dict(sections)
        except (ConfigError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    else:
        config = TrainConfig()
    for item in overrides:
        key, eq, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not (eq and dot and section and name):
            raise ConfigError(f"override {item!r} must look like Section.key=value")
        values = sections.get(section)
        sections = {**sections, section: {**(values if isinstance(values, Mapping) else {}),
                                          name: yaml.safe_load(value)}}
        try:
            config = _config_class(sections).from_dict(sections)
        except ConfigError as exc:
            raise ConfigError(f"override {item!r}: {exc}") from None
    config.check()
    return config


def training_shapes(pre: PreprocessConfig, data: DataSection, stride: int) -> list[PreprocessConfig]:
    """The resize settings training batches draw from, one CTC step (``stride`` px) apart.

    ``Data.min_width_range``: Preprocess with each width floor of the range, so one model reads at every
    floor and the inference floor is chosen by measurement (``benchmarks/width_policy.py``).
    ``Data.fixed_width_range``: each width of the range as both floor and ceiling, so a model read at one
    fixed width has seen plates squeezed and stretched around it. Neither: Preprocess as it is.
    """
    if data.fixed_width_range:
        lo, hi = data.fixed_width_range
        return [replace(pre, min_width=w, max_width=w) for w in range(lo, hi + 1, stride)]
    if data.min_width_range:
        lo, hi = data.min_width_range
        return [replace(pre, min_width=w) for w in range(lo, hi + 1, stride)]
    return [pre]


@dataclass(frozen=True)
class RunSettings:
    """What a checkpoint was trained with that its weights do not say: the architecture and its depth, the
    time stride (the pooling has no weights) and the preprocessing its run evaluated with."""

    time_stride: int
    preprocess: PreprocessConfig
    architecture: str = "ppocrv3"
    middle_blocks: int = MIDDLE_BLOCKS

    @classmethod
    def of(cls, checkpoint: str | Path) -> RunSettings:
        """From the run's ``config.yml`` beside ``checkpoint``; the training defaults (PP-OCRv3's
        stride and a floor that suits it) for ``"pretrained"``.

        Raises:
            FileNotFoundError: a checkpoint without its run's ``config.yml``: read with the defaults, a
                model trained with another stride reads garbage, and every parity check still agrees.
            CheckpointError: a run's ``config.yml`` that this twplate cannot read (e.g. a key it does not
                know), or a detector run's.
        """
        config = None if str(checkpoint) == "pretrained" else Path(checkpoint).parent / "config.yml"
        if config is not None and not config.is_file():
            raise FileNotFoundError(f"{config} not found: the run's settings (time stride, preprocessing) of "
                                    f"{checkpoint} are unknown; keep a checkpoint beside its run's config.yml")
        try:
            cfg = load_config(config)  # the defaults also fill what an older run's file lacks
        except ConfigError as exc:
            raise CheckpointError(f"the run settings of {checkpoint} cannot be read: {exc}") from None
        if not isinstance(cfg, TrainConfig):
            raise CheckpointError(f"{checkpoint} was trained by a detector run ({config}), not a recognizer's")
        return cls.of_config(cfg)

    @classmethod
    def of_config(cls, cfg: TrainConfig) -> RunSettings:
        arch = cfg.Architecture
        return cls(time_stride=arch.time_stride, preprocess=cfg.Preprocess, architecture=arch.name,
                   middle_blocks=arch.middle_blocks)


# ------------------------------------------------------------------ checking values against the dataclasses
def _build(cls: type[Any], values: Any, where: str) -> Any:
    """``cls(**values)`` with every key known to ``cls`` and every value of its field's type."""
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where or 'the config'} must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls) if f.init]
    kind = "section" if not where else "key"
    for key in values:
        if key not in known:
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"unknown {kind} {name} ({where or 'the config'} has: {', '.join(known)})")
    for f in fields(cls):
        if f.name not in values and f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{where}.{f.name} is required")
    kwargs = {key: _checked(value, hints[key], f"{where}.{key}" if where else str(key))
              for key, value in values.items()}
    return cls(**kwargs)


def _checked(value: Any, tp: Any, key: str) -> Any:
    """``value`` as type ``tp`` (bool, int, float, str, X | None, tuple[...], list[...], a dataclass)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        return _checked(value, tp, key)
    if isinstance(tp, type) and is_dataclass(tp):
        return _build(tp, value, key)
    if origin is tuple and isinstance(value, (list, tuple)) and len(value) == len(args):
        return tuple(_checked(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin is list and isinstance(value, list):
        return [_checked(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key} must be {_describe(tp)}, got {value!r}")


def _describe(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is tuple:
        return f"a list of {len(args)} values, each {_describe(args[0])}"
    if origin is list:
        return f"a list, each item {_describe(args[0])}"
    if is_dataclass(tp):
        return "a mapping of keys to values"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, str(tp))


def _plain(value: Any) -> Any:
    """Tuples as lists, so ``yaml.safe_dump`` writes them as it reads them back."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
