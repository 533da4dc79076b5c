"""Fine-tuning the plate detector: :class:`DetTrainer`, run by ``twplate train -c configs/twplate_det.yml``.

The shared loop (:class:`twplate.training.loop.Trainer`: warmup and cosine schedule, ``train.log``,
``metrics.jsonl``, ``latest``/``best_accuracy`` checkpoints, resume, data-parallel processes) with the
detector's model (PP-OCRv3 det, :mod:`.model`), batches (:mod:`.data`), loss (:mod:`.loss`) and
evaluation: every ``eval_every`` steps the checkpoint reads the validation photos through
:class:`~twplate.PhotoReader` with the shipped recognizer, exactly as ``twplate eval-photos`` does.
Batch normalisation keeps PP-OCRv3's statistics (a few photos per batch on CPU cannot estimate them).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from twplate.detect.preprocess import PPOCR_MEAN, PPOCR_STD, DetectPreprocessConfig, detector_input
from twplate.model_files import DetectorSpec
from twplate.photo_eval import PhotoLabels, read_labels

from ..batches import Prefetcher
from ..checkpoint import CheckpointBackend
from ..config import ConfigError, DetDataSection, DetTrainConfig
from ..loop import Trainer, log
from .data import BoxedPhoto, SceneSampler, read_box_file, text_maps
from .model import load_detector


class DetBatches(Prefetcher[tuple[np.ndarray, np.ndarray, np.ndarray]]):
    """``(images, targets, weights)``: detector inputs normalised as at inference, and their text maps."""

    def __init__(self, sampler: SceneSampler, batch_size: int, preprocess: DetectPreprocessConfig) -> None:
        self.sampler, self.batch_size, self.preprocess = sampler, batch_size, preprocess
        super().__init__()

    def _make(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images, targets, weights = [], [], []
        for _ in range(self.batch_size):
            image, quads, ignored = self.sampler.sample()
            images.append(detector_input(image, self.preprocess))
            target, weight = text_maps(image.shape[:2], quads, ignored)
            targets.append(target)
            weights.append(weight)
        return np.stack(images), np.stack(targets), np.stack(weights)


class DetTrainer(Trainer):
    """The detector: PP-OCRv3 det from its public weights, DBNet's loss on scenes, plates found on photos."""

    cfg: DetTrainConfig

    def _build_model(self) -> Any:
        """PP-OCRv3 det with its public weights, or a checkpoint's; batch norm frozen."""
        from paddle import nn

        net = load_detector(self.cfg.Global.init)
        for layer in net.sublayers():
            if isinstance(layer, nn.BatchNorm2D):
                layer._use_global_stats = True
        # Data.keep_text: the public weights, frozen, say what text is outside the plates
        self.teacher = load_detector("pretrained") if self.cfg.Data.keep_text else None
        return net

    @classmethod
    def check_inputs(cls, cfg: DetTrainConfig) -> None:
        """The named photo sources exist (a misspelt one would leave synthetic scenes alone to train on)."""
        _train_photos(cfg.Data)
        _val_photos(cfg.Data)

    def _open_data(self) -> tuple[DetBatches, list[PhotoLabels]]:
        data = self.cfg.Data
        seed = self.cfg.Global.seed + self.state.step + 7919 * self.rank
        photos = _train_photos(data)
        sampler = SceneSampler(photos, data.synthetic_share, data.size, data.glyphs, seed, data.other_text)
        self.preprocess = DetectPreprocessConfig(data.limit_side, PPOCR_MEAN, PPOCR_STD)  # as PP-OCRv3 det learnt
        self.val_reader: Any = None  # a PhotoReader, loaded at the first evaluation
        batches = DetBatches(sampler, self.batch_size, replace(self.preprocess, limit_side=data.size))
        val = _val_photos(data)
        log.info(f"train photos: {len(photos)} ({sum(len(p.quads) for p in photos)} plates), synthetic share "
                 f"{data.synthetic_share}, val photos: {len(val)}, steps: {self.total}, "
                 f"batch: {self.batch_size} x {self.world} process(es) of {data.size} px")
        return batches, val

    def _train_step(self, x: np.ndarray, target: np.ndarray, weight: np.ndarray) -> tuple[dict[str, float], int]:
        import paddle

        from .loss import db_loss

        x_in, target_in = paddle.to_tensor(x), paddle.to_tensor(target)
        if self.teacher is not None:
            with paddle.no_grad():
                target_in = paddle.maximum(target_in, self.teacher(x_in).squeeze(1))
        loss, _ = db_loss(self.model(x_in), target_in, paddle.to_tensor(weight))
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        self.schedule.step()
        return {"DBLoss": float(loss)}, x.shape[0]

    def _evaluate(self) -> None:
        """Plates found and false readings on each process's share of the validation photos, added up;
        the score that picks the best weights is found less false, over the plates."""
        from twplate.detect.detector import TextDetector
        from twplate.photo import PhotoReader
        from twplate.photo_eval import evaluate_photos

        if self.val_reader is None:  # loaded once: its detector runs self.net, whose weights train in place
            spec = DetectorSpec(name="checkpoint", version="checkpoint", directory=Path("."),
                                preprocess=self.preprocess)
            self.val_reader = PhotoReader(detector=TextDetector.with_backend(CheckpointBackend(self.net), spec),
                                          backend="onnxruntime")
        report = evaluate_photos(self.val_reader, self.val[self.rank :: self.world])
        found, plates, false, photos = self._summed_over_processes(
            [report.found, report.plates, report.false, report.photos])
        score = (found - false) / max(plates, 1)
        result = {"acc": score, "recall": found / max(plates, 1), "false": int(false),
                  "false_per_20_photos": 20 * false / max(photos, 1), "found": int(found), "plates": int(plates)}
        log.info(f"cur metric, recall: {result['recall']:.4f} ({int(found)}/{int(plates)}), false: {int(false)}, "
                 f"acc: {score:.4f}")
        self._keep_if_best(result)


def _source(photo: Path, root: str | Path) -> str:
    """The first folder of ``photo`` under ``root``: the photographer or camera a photo comes from."""
    return Path(photo).relative_to(Path(root)).parts[0]


Photo = TypeVar("Photo", BoxedPhoto, PhotoLabels)


def _train_photos(data: DetDataSection) -> list[BoxedPhoto]:
    """The boxed real photos to train on: those of ``Data.sources`` (all when none is named)."""
    if not data.train_boxes:
        return []
    root = Path(data.photo_root) if data.photo_root else Path(data.train_boxes).parent
    return _from_sources(read_box_file(data.train_boxes, root), root, data.sources, "Data.sources")


def _val_photos(data: DetDataSection) -> list[PhotoLabels]:
    """The labelled photos to evaluate on: those of ``Data.val_sources`` (all when none is named)."""
    if not data.val:
        return []
    return _from_sources(read_labels(data.val), Path(data.val).parent, data.val_sources, "Data.val_sources")


def _from_sources(photos: list[Photo], root: Path, sources: list[str], key: str) -> list[Photo]:
    """The photos of the named sources (all of them when none is named).

    Raises:
        ConfigError: a named source has no photo (a misspelt folder), listing those that exist.
    """
    if not sources:
        return photos
    present = {_source(p.path, root) for p in photos}
    unknown = sorted(set(sources) - present)
    if unknown:
        raise ConfigError(f"{key} names {unknown}, which hold no photo under {root}; sources: {sorted(present)}")
    return [p for p in photos if _source(p.path, root) in sources]
