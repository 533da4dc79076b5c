"""`twplate train -c CONFIG.yml`: fine-tune the PP-OCRv3 Student on plates with CTC.

Full backpropagation (``use_guide: false``), Adam with linear warmup and cosine decay, batches
built with inference's own resize (:mod:`twplate.preprocess`), evaluation every
``eval_every`` steps on real plates, checkpoints ``latest`` (for resume) and ``best_accuracy``.
``train.log`` follows PaddleOCR's line format; ``metrics.jsonl`` holds the same numbers for machines.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from twplate.charset import Charset, default_dictionary_path
from twplate.preprocess import PreprocessConfig, make_batch, resize_normalize

from .dataset import MixedSampler, Sample, read_label_file

log = logging.getLogger("ppocr")

DEFAULTS: dict[str, dict[str, Any]] = {
    "Global": {
        "output_dir": "runs/twplate-rec",
        "character_dict": str(default_dictionary_path()),
        "init": "pretrained",  # "pretrained" (PP-OCRv3 from rapidocr_onnxruntime) or a .pdparams path
        "use_guide": False,
        "seed": 0,
        "total_steps": 6000,
        "log_every": 10,
        "eval_every": 250,
        "threads": 2,
        "workers": 2,
    },
    # time_stride: input pixels per CTC step, 8 (PP-OCRv3) or 4 (reads plates at their natural width)
    "Architecture": {"time_stride": 8},
    "Optimizer": {"lr": 5.0e-4, "warmup_steps": 200, "l2": 3.0e-5, "batch_size": 32},
    # min_width_range [lo, hi]: each batch's width floor is drawn from lo, lo+s, ..., hi (s = time_stride,
    # one CTC step); fixed_width_range [lo, hi]: each batch is resized to one width drawn from that range,
    # whatever the plates' aspect (for a model read at a fixed width); neither: Preprocess as it is.
    "Data": {"train": [], "val": None, "augment_prob": 0.0, "min_width_range": None, "fixed_width_range": None},
    # PP-OCRv3's 8 px per CTC step needs a floor near 150 px (the library's default floor, 80, suits 4 px)
    "Preprocess": PreprocessConfig(min_width=160).to_dict(),
}


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict[str, dict[str, Any]]:
    """DEFAULTS, updated by the YAML file, then by ``Section.key=value`` overrides."""
    cfg = {k: dict(v) for k, v in DEFAULTS.items()}
    if path:
        for section, values in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).items():
            if section not in cfg:
                raise ValueError(f"{path}: unknown section {section!r} (known: {', '.join(cfg)})")
            cfg[section].update(values or {})
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        if section not in cfg or not name or not _:
            raise ValueError(f"override {item!r} must look like Section.key=value")
        cfg[section][name] = yaml.safe_load(value)
    return cfg


def training_shapes(pre: PreprocessConfig, data: dict[str, Any], stride: int) -> list[PreprocessConfig]:
    """The resize settings training batches draw from, one CTC step (``stride`` px) apart.

    ``Data.min_width_range``: Preprocess with each width floor of the range, so one model reads at every
    floor and the inference floor is chosen by measurement (``benchmarks/width_policy.py``).
    ``Data.fixed_width_range``: each width of the range as both floor and ceiling, so a model read at one
    fixed width has seen plates squeezed and stretched around it. Neither: Preprocess as it is.
    """
    floors, fixed = data.get("min_width_range"), data.get("fixed_width_range")
    if floors and fixed:
        raise ValueError("Data.min_width_range and Data.fixed_width_range exclude each other; set one")
    if fixed:
        lo, hi = fixed
        return [replace(pre, min_width=w, max_width=w) for w in range(int(lo), int(hi) + 1, stride)]
    if floors:
        lo, hi = floors
        return [replace(pre, min_width=w) for w in range(int(lo), int(hi) + 1, stride)]
    return [pre]


class BatchMaker:
    """Produces training batches on a background thread: draw, decode, augment, resize, pad."""

    def __init__(self, sampler: MixedSampler, charset: Charset, shapes: Sequence[PreprocessConfig], batch_size: int,
                 augment_prob: float, seed: int, time_stride: int = 8):
        self.sampler, self.batch_size = sampler, batch_size
        self.time_stride = time_stride
        # each batch is resized as one of these (see training_shapes)
        self.pres = list(shapes)
        self.charset = charset
        self.augment_prob = augment_prob
        self.rng = np.random.default_rng(seed)
        self.augment = None
        if augment_prob > 0:
            from .synth import augment

            self.augment = augment
        self.cache: dict[Path, np.ndarray] = {}
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._fill, daemon=True)
        self.thread.start()

    def _image(self, sample: Sample) -> np.ndarray:
        img = self.cache.get(sample.path)
        if img is None:
            img = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
            if img is None:
                raise OSError(f"cannot read training image {sample.path}")
            if len(self.cache) < 50_000:
                self.cache[sample.path] = img
        return img

    def _make(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        samples = self.sampler.draw(self.batch_size)
        pre = self.pres[self.rng.integers(len(self.pres))]
        tensors = []
        for s in samples:
            img = self._image(s)
            if self.augment is not None and self.rng.random() < self.augment_prob:
                img = self.augment(img, self.rng)
            tensors.append(resize_normalize(img, pre))
        lengths = np.array([len(s.label) for s in samples], dtype=np.int64)
        labels = np.zeros((len(samples), max(lengths)), dtype=np.int32)
        for i, s in enumerate(samples):
            labels[i, : len(s.label)] = self.charset.encode(s.label)
        # CTC needs a time step per character plus a blank between repeats: pad a batch of narrow
        # plates (low floors) wide enough for its longest label, never let the loss go infinite
        need = max(len(s.label) + sum(a == b for a, b in zip(s.label, s.label[1:])) for s in samples)
        width = max(max(t.shape[2] for t in tensors), self.time_stride * need)
        return make_batch(tensors, width), labels, lengths

    def _fill(self) -> None:
        while not self.stopped.is_set():
            try:
                item = self._make()
            except Exception as exc:  # surfaced in the training loop, never swallowed
                item = exc
            while not self.stopped.is_set():
                try:
                    self.queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, Exception):
                return

    def close(self) -> None:
        """Stop the producer thread and wait for it."""
        self.stopped.set()
        self.thread.join()

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        while True:
            item = self.queue.get()
            if isinstance(item, Exception):
                raise item
            yield item


def _setup_logging(out: Path, mode: str) -> None:
    fmt = logging.Formatter("[%(asctime)s] ppocr %(levelname)s: %(message)s", "%Y/%m/%d %H:%M:%S")
    log.setLevel(logging.INFO)
    log.propagate = False  # paddle configures the root logger; keep one copy of each line
    log.handlers.clear()
    for handler in (logging.FileHandler(out / "train.log", mode=mode, encoding="utf-8"), logging.StreamHandler()):
        handler.setFormatter(fmt)
        log.addHandler(handler)


def train(cfg: dict[str, dict[str, Any]], fresh: bool = False) -> dict[str, float]:
    """Run training as configured; returns the best evaluation metrics.

    On CPU, ``Global.workers`` processes train data-parallel (gloo), each on ``threads / workers``
    math threads: Paddle's CPU conv kernels barely use a second thread, a second process does.
    """
    g = cfg["Global"]
    workers = int(g["workers"])
    per_worker = max(1, int(g["threads"]) // max(workers, 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(per_worker))
    os.environ.setdefault("KMP_BLOCKTIME", "0")
    import paddle

    if workers > 1 and not _has_gpu(paddle):
        import paddle.distributed as dist

        dist.spawn(_train_worker, args=(cfg, fresh), nprocs=workers, backend="gloo")
        return json.loads((Path(g["output_dir"]) / "latest.json").read_text())["best"]
    return _train_worker(cfg, fresh)


def _has_gpu(paddle) -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def _exit_with_parent() -> None:
    """End this spawned worker when the launching process dies, rather than train on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _train_worker(cfg: dict[str, dict[str, Any]], fresh: bool) -> dict[str, float]:
    import paddle

    # Parameter and optimizer-state names come from a per-process counter; a fresh counter gives
    # every run the same names, so `latest.pdopt` matches on resume even within one process.
    with paddle.utils.unique_name.guard():
        return _train_loop(cfg, fresh)


def _train_loop(cfg: dict[str, dict[str, Any]], fresh: bool) -> dict[str, float]:
    g, opt_cfg, data = cfg["Global"], cfg["Optimizer"], cfg["Data"]
    import paddle
    import paddle.distributed as dist

    from .checkpoint import checkpoint_recognizer
    from .model import PlateRecModel
    from .pretrained import plate_model_from_pretrained

    paddle.set_device("gpu" if _has_gpu(paddle) else "cpu")
    world = dist.get_world_size()
    if world > 1:
        _exit_with_parent()
        dist.init_parallel_env()
    rank = dist.get_rank()
    lead = rank == 0
    out = Path(g["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    resume = (out / "latest.pdparams").exists() and not fresh
    mode = "a" if resume else "w"  # a fresh start also starts train.log and metrics.jsonl over
    if lead:
        _setup_logging(out, mode)
        (out / "config.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        log.disabled = True
    paddle.seed(g["seed"])
    charset = Charset.from_file(g["character_dict"])
    pre = PreprocessConfig.from_dict(cfg["Preprocess"])

    stride = int(cfg["Architecture"]["time_stride"])
    if g["init"] == "pretrained":
        net = plate_model_from_pretrained(list(charset.characters), use_guide=g["use_guide"], time_stride=stride)
    else:  # e.g. a finished run's weights, fine-tuned further with another time stride
        net = PlateRecModel(charset.num_classes, use_guide=g["use_guide"], time_stride=stride)
        net.set_state_dict(paddle.load(str(g["init"])))
    total = int(g["total_steps"])
    warmup = min(int(opt_cfg["warmup_steps"]), max(total - 1, 0))
    cosine = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=opt_cfg["lr"], T_max=max(total - warmup, 1))
    schedule = paddle.optimizer.lr.LinearWarmup(cosine, warmup_steps=warmup, start_lr=0.0, end_lr=opt_cfg["lr"])
    optimizer = paddle.optimizer.Adam(learning_rate=schedule, parameters=net.parameters(),
                                      weight_decay=paddle.regularizer.L2Decay(opt_cfg["l2"]))

    state = {"step": 0, "best_acc": -1.0, "best_step": 0, "best": {}}
    latest = out / "latest.pdparams"
    if resume:
        net.set_state_dict(paddle.load(str(latest)))
        optimizer.set_state_dict(paddle.load(str(out / "latest.pdopt")))
        state = json.loads((out / "latest.json").read_text())
        log.info(f"resume from {latest} at global_step: {state['step']}")
    model = paddle.DataParallel(net) if world > 1 else net

    batch_size = int(opt_cfg["batch_size"]) // world
    seed = g["seed"] + state["step"] + 7919 * rank
    sources = [read_label_file(src["label_file"], src.get("label_fixes")) for src in data["train"]]
    sampler = MixedSampler(sources, [src.get("weight", 1.0) for src in data["train"]], seed=seed)
    batches = BatchMaker(sampler, charset, training_shapes(pre, data, stride), batch_size, data["augment_prob"],
                         seed, stride)
    val = read_label_file(data["val"]) if data["val"] else []
    log.info(f"train sources: {[len(s) for s in sources]} weights {[s.get('weight', 1.0) for s in data['train']]}, "
             f"val: {len(val)}, steps: {total}, batch: {batch_size} x {world} process(es)")

    ctc = paddle.nn.CTCLoss(blank=0, reduction="none")
    metrics_file = (out / "metrics.jsonl").open(mode, encoding="utf-8") if lead else None
    model.train()
    step, t_window, n_window, loss_window = state["step"], time.time(), 0, []
    for x, labels, lengths in batches:
        if step >= total:
            break
        logits = model(paddle.to_tensor(x))
        n, t = logits.shape[0], logits.shape[1]
        loss = ctc(logits.transpose([1, 0, 2]), paddle.to_tensor(labels),
                   paddle.full([n], t, dtype="int64"), paddle.to_tensor(lengths)).mean()
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
        step += 1
        n_window += n * world
        loss_window.append(float(loss))
        if lead and (step % g["log_every"] == 0 or step == total):
            elapsed = time.time() - t_window
            ips = n_window / elapsed
            eta = int((total - step) * elapsed / max(len(loss_window), 1))
            avg = float(np.mean(loss_window))
            log.info(f"global_step: {step}/{total}, lr: {optimizer.get_lr():.6f}, CTCLoss: {avg:.5f}, loss: {avg:.5f}, "
                     f"avg_batch_cost: {elapsed / len(loss_window):.4f} s, avg_samples: {n * world}, "
                     f"ips: {ips:.2f} samples/s, eta: {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d}")
            metrics_file.write(json.dumps({"step": step, "lr": optimizer.get_lr(), "loss": avg, "ips": ips}) + "\n")
            metrics_file.flush()
            t_window, n_window, loss_window = time.time(), 0, []
        if val and (step % g["eval_every"] == 0 or step == total):
            result = _evaluate_sharded(checkpoint_recognizer(net, charset.characters, pre), val, rank, world)
            log.info(f"cur metric, acc: {result['acc']:.4f}, norm_edit_dis: {result['norm_edit_dis']:.4f}")
            if result["acc"] > state["best_acc"]:
                state.update(best_acc=result["acc"], best_step=step, best=result)
                if lead:
                    paddle.save(net.state_dict(), str(out / "best_accuracy.pdparams"))
            log.info(f"best metric, acc: {state['best_acc']:.4f}, best_step: {state['best_step']}")
            if lead:
                metrics_file.write(json.dumps({"step": step, "eval": result}) + "\n")
                metrics_file.flush()
        if step % g["eval_every"] == 0 or step == total:
            if lead:
                state["step"] = step
                paddle.save(net.state_dict(), str(out / "latest.pdparams"))
                paddle.save(optimizer.state_dict(), str(out / "latest.pdopt"))
                (out / "latest.json").write_text(json.dumps(state))
            if world > 1:
                dist.barrier()
    batches.close()
    if lead and not val:
        shutil.copyfile(out / "latest.pdparams", out / "best_accuracy.pdparams")
    if lead:
        metrics_file.close()
    log.info(f"done at global_step: {step}; best acc {state['best_acc']:.4f} at step {state['best_step']}")
    return state["best"]


def _evaluate_sharded(recognizer, val: Sequence[Sample], rank: int, world: int) -> dict[str, float]:
    """Evaluate with every process on its share of ``val`` and add the counts up.

    All processes stay busy and reach the next collective together; one process evaluating while
    the others wait timed out gloo's barrier on a loaded machine.
    """
    from .evaluate import evaluate

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
    train(load_config(args.config, args.override), fresh=args.fresh)
    return 0
