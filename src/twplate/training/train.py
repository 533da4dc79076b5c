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
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import yaml

from twplate.charset import Charset

from .batches import BatchMaker
from .checkpoint import checkpoint_recognizer
from .config import AnyTrainConfig, ConfigError, DetTrainConfig, load_config, training_shapes
from .dataset import MixedSampler, Sample, read_label_file
from .evaluate import evaluate

log = logging.getLogger(__name__)
LOG_FORMAT = "[%(asctime)s] ppocr %(levelname)s: %(message)s"  # PaddleOCR's; twplate plot reads it


@dataclass
class TrainState:
    """How far a run got and its best evaluation: ``latest.json``, read back on resume."""

    step: int = 0
    best_acc: float = -1.0
    best_step: int = 0
    best: dict[str, float] = field(default_factory=dict)

    @classmethod
    def read(cls, out: Path) -> TrainState:
        return cls(**json.loads((out / "latest.json").read_text()))

    def write(self, out: Path) -> None:
        (out / "latest.json").write_text(json.dumps(asdict(self)))


def train(cfg: AnyTrainConfig, fresh: bool = False) -> dict[str, float]:
    """Run training as configured; returns the best evaluation metrics.

    On CPU, ``Global.workers`` processes train data-parallel (gloo), each on ``threads / workers``
    math threads: Paddle's CPU conv kernels barely use a second thread, a second process does.
    Started by ``python -m paddle.distributed.launch`` (which sets ``PADDLE_TRAINERS_NUM``), this
    process is one of the launcher's and spawns none: the launcher decides the processes per node.
    """
    workers = cfg.Global.workers
    per_worker = max(1, cfg.Global.threads // max(workers, 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(per_worker))
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    import paddle

    if workers > 1 and "PADDLE_TRAINERS_NUM" not in os.environ and not _has_gpu(paddle):
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
    return Trainer


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


class RunRecord:
    """What a run leaves in its folder: ``train.log``, ``metrics.jsonl`` and ``config.yml``.

    Only the lead process (rank 0) writes; the others' log lines are dropped. A fresh start
    begins both files anew, a resumed run appends. The handlers live on twplate's own logger
    for the run only.
    """

    def __init__(self, out: Path, append: bool, lead: bool) -> None:
        self.out, self.mode, self.lead = out, "a" if append else "w", lead
        self.handlers: list[logging.Handler] = []
        self.metrics_file: Any = None
        self._saved = (log.level, log.propagate, log.disabled)

    def __enter__(self) -> RunRecord:
        if not self.lead:
            log.disabled = True
            return self
        log.setLevel(logging.INFO)
        log.propagate = False  # Paddle configures the root logger; keep one copy of each line
        formatter = logging.Formatter(LOG_FORMAT, "%Y/%m/%d %H:%M:%S")
        self.handlers = [logging.FileHandler(self.out / "train.log", mode=self.mode, encoding="utf-8"),
                         logging.StreamHandler()]
        for handler in self.handlers:
            handler.setFormatter(formatter)
            log.addHandler(handler)
        self.metrics_file = (self.out / "metrics.jsonl").open(self.mode, encoding="utf-8")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for handler in self.handlers:
            log.removeHandler(handler)
            handler.close()
        if self.metrics_file is not None:
            self.metrics_file.close()
        log.level, log.propagate, log.disabled = self._saved

    def config(self, cfg: AnyTrainConfig) -> None:
        """The config as loaded, defaults filled in: what :class:`~.config.RunSettings` reads back."""
        if self.lead:
            (self.out / "config.yml").write_text(yaml.safe_dump(cfg.to_dict(), allow_unicode=True, sort_keys=False),
                                                 encoding="utf-8")

    def metrics(self, event: dict[str, Any]) -> None:
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps(event) + "\n")
            self.metrics_file.flush()


class Trainer:
    """One process's training: the model, its optimizer, its share of the batches, and the loop's steps.

    This class trains the recognizer; :class:`twplate.training.det.train.DetTrainer` changes the model,
    the batches, the loss and the evaluation, and keeps the rest (schedule, log, checkpoints, resume).
    """

    loss_name = "CTCLoss"

    def __init__(self, cfg: Any, out: Path, resume: bool, rank: int, world: int, record: RunRecord) -> None:
        import paddle

        self.cfg, self.out, self.rank, self.world, self.record = cfg, out, rank, world, record
        self.lead = rank == 0
        self.total = cfg.Global.total_steps
        paddle.seed(cfg.Global.seed)
        self.net = self._build_model()
        self.optimizer, self.schedule = self._build_optimizer()
        self.state = self._resume() if resume else TrainState()
        self.batch_size = cfg.Optimizer.batch_size // world  # this process's share
        self.model = paddle.DataParallel(self.net) if world > 1 else self.net
        self.batches, self.val = self._open_data()

    # ------------------------------------------------------------ set-up
    def _build_model(self) -> Any:
        """The plate dictionary, and the Student with its head: PP-OCRv3's weights, or a checkpoint's."""
        import paddle

        from .model import PlateRecModel
        from .pretrained import load_onnx_weights, plate_model_from_pretrained

        self.charset = Charset.from_file(self.cfg.Global.character_dict)
        g, stride = self.cfg.Global, self.cfg.Architecture.time_stride
        if g.init == "pretrained":
            return plate_model_from_pretrained(list(self.charset.characters), use_guide=g.use_guide,
                                               time_stride=stride)
        # a finished run's weights, or a shipped model's ONNX export, fine-tuned further
        net = PlateRecModel(self.charset.num_classes, use_guide=g.use_guide, time_stride=stride)
        if g.init.endswith(".onnx"):
            load_onnx_weights(net, Path(g.init))
        else:
            net.set_state_dict(paddle.load(g.init))
        return net

    def _build_optimizer(self) -> tuple[Any, Any]:
        """Adam with L2 decay; the learning rate warms up linearly, then decays along a cosine."""
        import paddle

        o = self.cfg.Optimizer
        warmup = min(o.warmup_steps, max(self.total - 1, 0))
        cosine = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=o.lr, T_max=max(self.total - warmup, 1))
        schedule = paddle.optimizer.lr.LinearWarmup(cosine, warmup_steps=warmup, start_lr=0.0, end_lr=o.lr)
        optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=self.net.parameters(),
                                          weight_decay=paddle.regularizer.L2Decay(o.l2))
        return optimizer, schedule

    def _resume(self) -> TrainState:
        import paddle

        latest = self.out / "latest.pdparams"
        self.net.set_state_dict(paddle.load(str(latest)))
        self.optimizer.set_state_dict(paddle.load(str(self.out / "latest.pdopt")))
        state = TrainState.read(self.out)
        log.info(f"resume from {latest} at global_step: {state.step}")
        return state

    def _open_data(self) -> tuple[Any, list[Any]]:
        """This process's batches (its own seed, a share of the batch size) and the validation samples."""
        data = self.cfg.Data
        seed = self.cfg.Global.seed + self.state.step + 7919 * self.rank
        sources = [read_label_file(src.label_file, src.label_fixes) for src in data.train]
        weights = [src.weight for src in data.train]
        sampler = MixedSampler(sources, weights, seed=seed)
        stride = self.cfg.Architecture.time_stride
        shapes = training_shapes(self.cfg.Preprocess, data, stride)
        batches = BatchMaker(sampler, self.charset, shapes, self.batch_size, data.augment_prob, seed, stride)
        val = read_label_file(data.val) if data.val else []
        log.info(f"train sources: {[len(s) for s in sources]} weights {weights}, val: {len(val)}, "
                 f"steps: {self.total}, batch: {self.batch_size} x {self.world} process(es)")
        return batches, val

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        """Train up to ``total_steps``: log every ``log_every`` steps, evaluate and save every ``eval_every``."""
        self.model.train()
        window = _Window()
        for x, labels, lengths in self.batches:
            if self.state.step >= self.total:
                break
            loss, n = self._train_step(x, labels, lengths)
            self.state.step += 1
            window.add(loss, n * self.world)
            if self._due(self.cfg.Global.log_every):
                self._log_progress(window, n)
                window = _Window()
            if self._due(self.cfg.Global.eval_every):
                if self.val:
                    self._evaluate()
                self._save_latest()

    def _due(self, every: int) -> bool:
        return self.state.step % every == 0 or self.state.step == self.total

    def _train_step(self, x: np.ndarray, labels: np.ndarray, lengths: np.ndarray) -> tuple[float, int]:
        """One optimizer step on one batch; returns the batch's mean CTC loss and its size."""
        import paddle

        logits = self.model(paddle.to_tensor(x))
        n, t = logits.shape[0], logits.shape[1]
        loss = paddle.nn.functional.ctc_loss(logits.transpose([1, 0, 2]), paddle.to_tensor(labels),
                                             paddle.full([n], t, dtype="int64"), paddle.to_tensor(lengths),
                                             blank=0, reduction="none").mean()
        loss.backward()
        self.optimizer.step()
        self.optimizer.clear_grad()
        self.schedule.step()
        return float(loss), n

    def _log_progress(self, window: _Window, n: int) -> None:
        if not self.lead:
            return
        step, total = self.state.step, self.total
        elapsed = time.time() - window.start
        ips = window.samples / elapsed
        eta = int((total - step) * elapsed / max(len(window.losses), 1))
        avg = float(np.mean(window.losses))
        lr = self.optimizer.get_lr()
        log.info(f"global_step: {step}/{total}, lr: {lr:.6f}, {self.loss_name}: {avg:.5f}, loss: {avg:.5f}, "
                 f"avg_batch_cost: {elapsed / len(window.losses):.4f} s, avg_samples: {n * self.world}, "
                 f"ips: {ips:.2f} samples/s, eta: {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}")
        self.record.metrics({"step": step, "lr": lr, "loss": avg, "ips": ips})

    def _evaluate(self) -> None:
        """Every process reads its share of the validation set; the lead keeps the best weights."""
        import paddle

        recognizer = checkpoint_recognizer(self.net, self.charset.characters, self.cfg.Preprocess)
        result = _evaluate_sharded(recognizer, self.val, self.rank, self.world)
        log.info(f"cur metric, acc: {result['acc']:.4f}, norm_edit_dis: {result['norm_edit_dis']:.4f}")
        state = self.state
        if result["acc"] > state.best_acc:
            state.best_acc, state.best_step, state.best = result["acc"], state.step, result
            if self.lead:
                paddle.save(self.net.state_dict(), str(self.out / "best_accuracy.pdparams"))
        log.info(f"best metric, acc: {state.best_acc:.4f}, best_step: {state.best_step}")
        self.record.metrics({"step": state.step, "eval": result})

    def _save_latest(self) -> None:
        """``latest.pdparams``, ``latest.pdopt`` and ``latest.json`` (lead), then wait for the others."""
        import paddle
        import paddle.distributed as dist

        if self.lead:
            paddle.save(self.net.state_dict(), str(self.out / "latest.pdparams"))
            paddle.save(self.optimizer.state_dict(), str(self.out / "latest.pdopt"))
            self.state.write(self.out)
        if self.world > 1:
            dist.barrier()

    def finish(self) -> None:
        """Without validation the last weights are the best there are."""
        if self.lead and not self.val:
            shutil.copyfile(self.out / "latest.pdparams", self.out / "best_accuracy.pdparams")
        s = self.state
        log.info(f"done at global_step: {s.step}; best acc {s.best_acc:.4f} at step {s.best_step}")


class _Window:
    """Losses and samples since the last progress line."""

    def __init__(self) -> None:
        self.start, self.samples = time.time(), 0
        self.losses: list[float] = []

    def add(self, loss: float, samples: int) -> None:
        self.losses.append(loss)
        self.samples += samples


def _evaluate_sharded(recognizer: Any, val: Sequence[Sample], rank: int, world: int) -> dict[str, float]:
    """Evaluate with every process on its share of ``val`` and add the counts up.

    All processes stay busy and reach the next collective together; one process evaluating while
    the others wait timed out gloo's barrier on a loaded machine.
    """
    m = evaluate(recognizer, val[rank::world])
    counts = np.array([m.correct, m.norm_edit_sum, m.total], dtype=np.float64)
    if world > 1:
        import paddle
        import paddle.distributed as dist

        t = paddle.to_tensor(counts)
        dist.all_reduce(t)
        counts = t.numpy()
    correct, edit_sum, total = counts
    return {"acc": correct / total, "norm_edit_dis": 1.0 - edit_sum / total, "total": int(total)}


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
    train(cfg, fresh=args.fresh)
    return 0
