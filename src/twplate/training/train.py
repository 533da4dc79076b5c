"""`twplate train -c CONFIG.yml`: fine-tune the PP-OCRv3 Student on plates with CTC, or, for a config with
``Architecture.model_type: det``, the plate detector (:mod:`twplate.training.det.train`).

Full backpropagation (``use_guide: false``), Adam with linear warmup and cosine decay, batches
built with inference's own resize (:mod:`twplate.preprocess`), evaluation every
``eval_every`` steps on real plates, checkpoints ``latest`` (for resume) and ``best_accuracy``.
``train.log`` follows PaddleOCR's line format; ``metrics.jsonl`` holds the same numbers for machines.

Paddle is imported inside the functions that train: :func:`train` sets the math threads first.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from twplate.charset import Charset
from twplate.errors import CheckpointError

from .batches import BatchMaker
from .checkpoint import checkpoint_recognizer, load_student
from .config import (
    MIDDLE_BLOCKS,
    AnyTrainConfig,
    ConfigError,
    DetTrainConfig,
    RunSettings,
    TrainConfig,
    load_config,
    training_shapes,
)
from .dataset import MixedSampler, read_label_file
from .evaluate import evaluate
from .loop import RunRecord, Trainer, TrainState, log


def train(cfg: AnyTrainConfig, fresh: bool = False) -> dict[str, float]:
    """Run training as configured; returns the best evaluation metrics.

    On CPU, ``Global.workers`` processes train data-parallel (gloo), each on ``threads / workers``
    math threads: Paddle's CPU conv kernels barely use a second thread, a second process does.
    Started by ``python -m paddle.distributed.launch`` (which sets ``PADDLE_TRAINERS_NUM``), this
    process is one of the launcher's and spawns none: the launcher decides the processes per node.

    Raises:
        ConfigError: before any process starts, when the batch does not split evenly over the processes,
            or the data or a checkpoint the config names does not hold what it says (:meth:`Trainer.check_inputs`).
    """
    workers = cfg.Global.workers
    per_worker = max(1, cfg.Global.threads // workers)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(per_worker))
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    import paddle

    spawn = workers > 1 and "PADDLE_TRAINERS_NUM" not in os.environ and not _has_gpu(paddle)
    processes = workers if spawn else int(os.environ.get("PADDLE_TRAINERS_NUM", 1))
    if cfg.Optimizer.batch_size % processes:
        raise ConfigError(f"Optimizer.batch_size {cfg.Optimizer.batch_size} must be a multiple of the {processes} "
                          "training processes (Global.workers, or the launcher's): each takes an equal share")
    _trainer_class(cfg).check_inputs(cfg)
    if spawn:
        import paddle.distributed as dist

        # paddle's stub lists neither spawn's **options (backend) nor a function that returns
        dist.spawn(_train_worker, args=(cfg, fresh), nprocs=workers, backend="gloo")  # type: ignore[call-arg, arg-type]
        return TrainState.read(Path(cfg.Global.output_dir)).best
    return _train_worker(cfg, fresh)


def _has_gpu(paddle: Any) -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def _exit_with_parent() -> None:
    """End this spawned worker when the launching process dies, rather than train on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_worker(cfg: AnyTrainConfig, fresh: bool) -> dict[str, float]:
    import paddle

    # Parameter and optimizer-state names come from a per-process counter; a fresh counter gives
    # every run the same names, so `latest.pdopt` matches on resume even within one process.
    with paddle.utils.unique_name.guard():
        return _train_loop(cfg, fresh)


def _train_loop(cfg: AnyTrainConfig, fresh: bool) -> dict[str, float]:
    """One process's run: join the others, keep the record (lead only), train, and hand back the best."""
    rank, world = _join_processes()
    out = Path(cfg.Global.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    resume = (out / "latest.pdparams").exists() and not fresh
    with RunRecord(out, append=resume, lead=rank == 0) as record:
        record.config(cfg)
        trainer = _trainer_class(cfg)(cfg, out, resume, rank, world, record)
        try:
            trainer.run()
        finally:
            trainer.batches.close()
        trainer.finish()
    return trainer.state.best


def _trainer_class(cfg: AnyTrainConfig) -> type[Trainer]:
    if isinstance(cfg, DetTrainConfig):
        from .det.train import DetTrainer  # the detector's data loads the synthetic plates' renderer

        return DetTrainer
    return RecTrainer


def _join_processes() -> tuple[int, int]:
    """Pick the device and, when several processes train, join them: (rank, world size)."""
    import paddle
    import paddle.distributed as dist

    paddle.set_device("gpu" if _has_gpu(paddle) else "cpu")
    world = dist.get_world_size()
    if world > 1:
        _exit_with_parent()
        dist.init_parallel_env()
    return dist.get_rank(), world


class RecTrainer(Trainer):
    """The recognizer: the Student (or PP-OCRv4's model) with the plate dictionary's head, CTC (plus distillation
    from a teacher where one is given), accuracy on real val crops."""

    def _build_model(self) -> Any:
        """The plate dictionary, the model with its head (the public weights, or a checkpoint's), and the
        teacher where the run distills from one."""

        from .model import keep_middle_blocks, load_weights, model_of_run
        from .pretrained import plate_model_from_pretrained

        self.charset = Charset.from_file(self.cfg.Global.character_dict)
        self.teacher = self._load_teacher()
        g, arch = self.cfg.Global, self.cfg.Architecture
        if g.init == "pretrained":
            net = plate_model_from_pretrained(list(self.charset.characters), use_guide=g.use_guide,
                                              time_stride=arch.time_stride, architecture=arch.name)
        elif g.init.endswith(".onnx"):  # a shipped model's export, fine-tuned further
            net = self._onnx_model(g.init, "Global.init")
        else:  # a finished run's weights, read at their run's depth
            depth = RunSettings.of(g.init).middle_blocks
            net = model_of_run(replace(RunSettings.of_config(self.cfg), middle_blocks=depth),
                               self.charset.num_classes, use_guide=g.use_guide)
            load_weights(net, g.init)
        if arch.middle_blocks != net.middle_blocks:
            keep_middle_blocks(net, arch.middle_blocks)
        return net

    def _onnx_model(self, path: str, key: str) -> Any:
        """The model of a twplate ``inference.onnx`` (``key`` names where the config gave it), read as this run's
        architecture and time stride at its full depth, after checking that it reads this run's dictionary."""
        from .model import model_of_run
        from .pretrained import load_onnx_weights

        settings = replace(RunSettings.of_config(self.cfg), middle_blocks=MIDDLE_BLOCKS)
        net = model_of_run(settings, self.charset.num_classes, use_guide=self.cfg.Global.use_guide)
        characters = load_onnx_weights(net, Path(path))
        if characters and tuple(characters) != self.charset.characters:
            raise CheckpointError(f"{key} {path} reads another dictionary than Global.character_dict "
                                  f"{self.cfg.Global.character_dict}: its head's classes would mean other characters")
        return net

    @classmethod
    def check_inputs(cls, cfg: TrainConfig) -> None:
        """A run's checkpoint as ``Global.init`` has at least the middle blocks this run keeps. A
        ``Distill.teacher`` is a recognizer run's checkpoint, beside its ``config.yml``, read at this run's
        time stride, so that its probabilities and the model's line up step by step (or a twplate
        ``inference.onnx``, read at this run's stride as ``Global.init`` is)."""
        init = cfg.Global.init
        if init != "pretrained" and not init.endswith(".onnx"):  # a run's checkpoint, as _build_model reads it
            try:
                depth = RunSettings.of(init).middle_blocks
            except (OSError, CheckpointError) as exc:
                raise ConfigError(f"Global.init: {exc}") from None
            if depth < cfg.Architecture.middle_blocks:
                raise ConfigError(f"Global.init {init} has {depth} middle blocks; this run cannot keep "
                                  f"{cfg.Architecture.middle_blocks}")
        teacher = cfg.Distill.teacher
        if teacher is None or teacher.endswith(".onnx"):  # an export is read as this run's architecture
            return
        try:
            settings = RunSettings.of(teacher)
        except (OSError, CheckpointError) as exc:
            raise ConfigError(f"Distill.teacher: {exc}") from None
        if settings.time_stride != cfg.Architecture.time_stride:
            raise ConfigError(f"Distill.teacher {teacher} reads at time stride {settings.time_stride}, this run at "
                              f"{cfg.Architecture.time_stride}: their CTC steps would not line up")
        if cfg.Distill.feature_weight and settings.architecture != cfg.Architecture.name:
            raise ConfigError(f"Distill.feature_weight: the teacher {teacher} is {settings.architecture}, this run "
                              f"{cfg.Architecture.name}: their backbone features differ in shape")

    def _load_teacher(self) -> Any:
        """``Distill.teacher`` in eval mode (no gradients), or ``None``. Its run's settings were checked
        (:meth:`check_inputs`); its head's size is checked here against this run's dictionary, so that its
        probabilities and the model's line up class by class."""
        teacher = self.cfg.Distill.teacher
        if teacher is None:
            return None
        if teacher.endswith(".onnx"):
            net = self._onnx_model(teacher, "Distill.teacher")
            net.eval()
        else:
            net = load_student(teacher, self.charset.characters)  # the architecture its run's config.yml names
        for parameter in net.parameters():
            parameter.stop_gradient = True
        distill = self.cfg.Distill
        log.info(f"distilling from {teacher} ({net.architecture}), weight {distill.weight}, "
                 f"feature weight {distill.feature_weight}")
        return net

    def _open_data(self) -> tuple[Any, list[Any]]:
        """This process's batches (its own seed, a share of the batch size) and the validation samples."""
        data = self.cfg.Data
        seed = self.cfg.Global.seed + self.state.step + 7919 * self.rank
        sources = [read_label_file(src.label_file, src.label_fixes) for src in data.train]
        weights = [src.weight for src in data.train]
        sampler = MixedSampler(sources, weights, seed=seed)
        stride = self.cfg.Architecture.time_stride
        shapes = training_shapes(self.cfg.Preprocess, data, stride)
        batches = BatchMaker(sampler, self.charset, shapes, self.batch_size, data.augment_prob, seed, stride,
                             data.tilt_max_deg, data.far_prob)
        val = read_label_file(data.val) if data.val else []
        log.info(f"train sources: {[len(s) for s in sources]} weights {weights}, val: {len(val)}, "
                 f"steps: {self.total}, batch: {self.batch_size} x {self.world} process(es)")
        return batches, val

    def _train_step(self, x: np.ndarray, labels: np.ndarray, lengths: np.ndarray) -> tuple[dict[str, float], int]:
        """One optimizer step on one batch; returns its loss terms (``CTCLoss``, plus, where there is a teacher,
        ``KL`` to its probabilities, and ``features`` to its backbone features where ``feature_weight`` is set),
        each weighted as it enters the loss, and the batch's size."""
        import paddle
        import paddle.nn.functional as F

        images = paddle.to_tensor(x)
        distill = self.cfg.Distill
        hints = distill.feature_weight > 0  # backbone features regressed too (a teacher is then given)
        if hints:
            features, logits = self.model(images, with_backbone=True)
        else:
            logits = self.model(images)
        n, t = logits.shape[0], logits.shape[1]
        terms = {"CTCLoss": F.ctc_loss(logits.transpose([1, 0, 2]), paddle.to_tensor(labels),
                                       paddle.full([n], t, dtype="int64"), paddle.to_tensor(lengths), blank=0,
                                       reduction="none").mean()}
        if self.teacher is not None:
            with paddle.no_grad():  # the teacher is in eval mode: probabilities (N, T, C)
                target_features, target = self.teacher(images, with_backbone=True)
            kl = (target * (paddle.log(target.clip(min=1e-8)) - F.log_softmax(logits, axis=-1))).sum(axis=[1, 2])
            terms["KL"] = distill.weight * kl.mean()  # per crop, summed over its steps, as CTC's is
            if hints:
                terms["features"] = distill.feature_weight * F.mse_loss(features, target_features)
        paddle.add_n(list(terms.values())).backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        self.schedule.step()
        return {name: float(value) for name, value in terms.items()}, n

    def _evaluate(self) -> None:
        """Every process reads its share of the validation crops; the counts are added up."""
        recognizer = checkpoint_recognizer(self.net, self.charset.characters, self.cfg.Preprocess)
        m = evaluate(recognizer.run_many, self.val[self.rank :: self.world])
        correct, edit_sum, total = self._summed_over_processes([m.correct, m.norm_edit_sum, m.total])
        result = {"acc": correct / total, "norm_edit_dis": 1.0 - edit_sum / total, "total": int(total)}
        log.info(f"cur metric, acc: {result['acc']:.4f}, norm_edit_dis: {result['norm_edit_dis']:.4f}")
        self._keep_if_best(result)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, help="training config (YAML)")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="Section.key=value",
                        help="override a config value, e.g. -o Global.total_steps=100")
    parser.add_argument("--fresh", action="store_true", help="ignore output_dir/latest and start over")


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config, args.override)
    except (ConfigError, OSError) as exc:
        print(f"twplate train: error: {exc}", file=sys.stderr)
        return 2
    try:
        train(cfg, fresh=args.fresh)
    except ConfigError as exc:  # refused by train's own checks, before any process starts
        print(f"twplate train: error: {exc}", file=sys.stderr)
        return 2
    return 0
