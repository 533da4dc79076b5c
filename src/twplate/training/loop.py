"""The training loop every twplate model shares: schedule, steps, log, checkpoints, resume.

:class:`Trainer` runs one process's share of a run; a subclass says what is trained (the recognizer's
:class:`~twplate.training.train.RecTrainer`, the detector's :class:`~twplate.training.det.train.DetTrainer`).
:class:`RunRecord` keeps the run folder: ``train.log`` (PaddleOCR's line format), ``metrics.jsonl``,
``config.yml``. Paddle is imported inside the methods: the process sets its math threads first.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import yaml

from .config import AnyTrainConfig

RUN_LOG = logging.getLogger("twplate.training")
"""Where a run's handlers live: every training module's logger is below it (``twplate.training.dataset``
lists the label fixes it applies there), so their lines reach ``train.log``."""
log = logging.getLogger("twplate.training.train")
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


class RunRecord:
    """What a run leaves in its folder: ``train.log``, ``metrics.jsonl`` and ``config.yml``.

    Only the lead process (rank 0) writes; the others' log lines are dropped. A fresh start
    begins both files anew, a resumed run appends. The handlers live on :data:`RUN_LOG` for the
    run only.
    """

    def __init__(self, out: Path, append: bool, lead: bool) -> None:
        self.out, self.mode, self.lead = out, "a" if append else "w", lead
        self.handlers: list[logging.Handler] = []
        self.metrics_file: Any = None
        self._saved = (RUN_LOG.level, RUN_LOG.propagate)

    def __enter__(self) -> RunRecord:
        RUN_LOG.propagate = False  # Paddle configures the root logger; keep one copy of each line
        if not self.lead:
            RUN_LOG.setLevel(logging.CRITICAL + 1)  # below it, every training logger is silent
            return self
        RUN_LOG.setLevel(logging.INFO)
        formatter = logging.Formatter(LOG_FORMAT, "%Y/%m/%d %H:%M:%S")
        self.handlers = [logging.FileHandler(self.out / "train.log", mode=self.mode, encoding="utf-8"),
                         logging.StreamHandler()]
        for handler in self.handlers:
            handler.setFormatter(formatter)
            RUN_LOG.addHandler(handler)
        self.metrics_file = (self.out / "metrics.jsonl").open(self.mode, encoding="utf-8")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for handler in self.handlers:
            RUN_LOG.removeHandler(handler)
            handler.close()
        if self.metrics_file is not None:
            self.metrics_file.close()
        RUN_LOG.setLevel(self._saved[0])  # setLevel, not assignment: the loggers below cache their levels
        RUN_LOG.propagate = self._saved[1]

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

    The loop, schedule, log, checkpoints and resume are the same for every model; a subclass says what
    is trained and how it is measured (:meth:`_build_model`, :meth:`_open_data`, :meth:`_train_step`,
    :meth:`_evaluate`): :class:`twplate.training.train.RecTrainer` for the recognizer,
    :class:`twplate.training.det.train.DetTrainer` for the detector.
    """

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
    def _build_optimizer(self) -> tuple[Any, Any]:
        """Adam with L2 decay; the learning rate warms up linearly, then decays along a cosine."""
        import paddle

        o = self.cfg.Optimizer
        warmup = min(o.warmup_steps, max(self.total - 1, 0))
        cosine = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=o.lr, T_max=max(self.total - warmup, 1))
        schedule = (paddle.optimizer.lr.LinearWarmup(cosine, warmup_steps=warmup, start_lr=0.0, end_lr=o.lr)
                    if warmup > 0 else cosine)
        optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=self.net.parameters(),
                                          weight_decay=paddle.regularizer.L2Decay(o.l2))
        return optimizer, schedule

    def _resume(self) -> TrainState:
        import paddle

        from .model import load_weights

        latest = self.out / "latest.pdparams"
        load_weights(self.net, latest)
        self.optimizer.set_state_dict(paddle.load(str(self.out / "latest.pdopt")))
        state = TrainState.read(self.out)
        log.info(f"resume from {latest} at global_step: {state.step}")
        return state

    # ------------------------------------------------------------ what a subclass trains
    @classmethod
    def check_inputs(cls, cfg: Any) -> None:
        """Check, before any training process starts, that the data and checkpoints ``cfg`` names hold what it
        says (raising :class:`~.config.ConfigError`); the default checks nothing."""

    def _build_model(self) -> Any:
        """The network to train, with its starting weights (``Global.init``)."""
        raise NotImplementedError

    def _open_data(self) -> tuple[Any, list[Any]]:
        """This process's batches (an iterable of 3 arrays, with ``close()``) and the validation items."""
        raise NotImplementedError

    def _train_step(self, x: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[dict[str, float], int]:
        """One optimizer step on one batch; returns the terms of the batch's mean loss by name (as they
        enter it, so they add up to it) and the batch's size."""
        raise NotImplementedError

    def _evaluate(self) -> None:
        """Measure the weights on the validation items, log it, and keep ``best_accuracy`` when best."""
        raise NotImplementedError

    # ------------------------------------------------------------ evaluation, shared
    def _summed_over_processes(self, counts: list[float]) -> np.ndarray:
        """``counts`` added up over every process (each evaluated its share of the validation items).

        All processes stay busy and reach the next collective together; one process evaluating while
        the others wait timed out gloo's barrier on a loaded machine.
        """
        total = np.array(counts, dtype=np.float64)
        if self.world > 1:
            import paddle
            import paddle.distributed as dist

            t = paddle.to_tensor(total)
            dist.all_reduce(t)
            total = t.numpy()
        return total

    def _keep_if_best(self, result: dict[str, float]) -> None:
        """Record an evaluation; when its ``acc`` beats every earlier one, the lead saves ``best_accuracy``."""
        import paddle

        state = self.state
        if result["acc"] > state.best_acc:
            state.best_acc, state.best_step, state.best = result["acc"], state.step, result
            if self.lead:
                paddle.save(self.net.state_dict(), str(self.out / "best_accuracy.pdparams"))
        log.info(f"best metric, acc: {state.best_acc:.4f}, best_step: {state.best_step}")
        self.record.metrics({"step": state.step, "eval": result})

    # ------------------------------------------------------------ the loop
    def run(self) -> None:
        """Train up to ``total_steps``: log every ``log_every`` steps, evaluate and save every ``eval_every``."""
        self.model.train()
        window = _Window()
        for x, labels, lengths in self.batches:
            if self.state.step >= self.total:
                break
            terms, n = self._train_step(x, labels, lengths)
            self.state.step += 1
            window.add(terms, n * self.world)
            if self._due(self.cfg.Global.log_every):
                self._log_progress(window, n)
                window = _Window()
            if self._due(self.cfg.Global.eval_every):
                share_running_statistics(self.net, self.world)
                if self.val:
                    self._evaluate()
                self._save_latest()

    def _due(self, every: int) -> bool:
        return self.state.step % every == 0 or self.state.step == self.total

    def _log_progress(self, window: _Window, n: int) -> None:
        if not self.lead:
            return
        step, total = self.state.step, self.total
        elapsed = time.time() - window.start
        ips = window.samples / elapsed
        eta = int((total - step) * elapsed / max(window.steps, 1))
        terms = window.mean_terms()
        avg = sum(terms.values())
        lr = self.optimizer.get_lr()
        named = "".join(f"{name}: {value:.5f}, " for name, value in terms.items())
        log.info(f"global_step: {step}/{total}, lr: {lr:.6f}, {named}loss: {avg:.5f}, "
                 f"avg_batch_cost: {elapsed / window.steps:.4f} s, avg_samples: {n * self.world}, "
                 f"ips: {ips:.2f} samples/s, eta: {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}")
        self.record.metrics({"step": step, "lr": lr, "loss": avg, **terms, "ips": ips})

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


def share_running_statistics(net: Any, world: int) -> None:
    """Give every process the mean of the processes' BatchNorm running means and variances.

    Data-parallel training all-reduces the gradients, so the weights agree in every process. Each
    process updates its BatchNorm running statistics from its own batches, though, and Paddle's
    ``DataParallel`` syncs them only when it is built. Evaluation and checkpoints use these
    statistics, so without this each process would measure its share of the validation items with a
    slightly different model from the one the lead saves. Averaging them, as timm's ``distribute_bn``
    does, keeps what every process has seen.
    """
    if world <= 1:
        return
    import paddle
    import paddle.distributed as dist

    norms = (paddle.nn.BatchNorm1D, paddle.nn.BatchNorm2D, paddle.nn.BatchNorm3D)
    with paddle.no_grad():
        for layer in net.sublayers(include_self=True):
            if isinstance(layer, norms):
                for statistic in (layer._mean, layer._variance):
                    dist.all_reduce(statistic)
                    statistic.set_value(statistic / world)


class _Window:
    """Loss terms and samples since the last progress line."""

    def __init__(self) -> None:
        self.start, self.samples, self.steps = time.time(), 0, 0
        self.sums: dict[str, float] = {}

    def add(self, terms: dict[str, float], samples: int) -> None:
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.steps += 1
        self.samples += samples

    def mean_terms(self) -> dict[str, float]:
        return {name: total / self.steps for name, total in self.sums.items()}
