"""``twplate train`` under ``python -m paddle.distributed.launch``: 2 nodes on loopback (CPU, gloo) train as one node.

Two launchers, ``--nnodes 2 --rank 0|1``, one process each, share a run folder as nodes share a file
system. The same global batch on one node is ``Global.workers=2`` there (``dist.spawn``): the losses
and weights must agree, rank 0 alone writes the log, and a resumed run continues alike. Processes also
share one set of BatchNorm running statistics before they evaluate and save.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO
from plates import write_plate_set
from serving import free_port

pytestmark = [pytest.mark.paddle, pytest.mark.slow]

STEPS, MORE_STEPS = 4, 6


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, pretrained_onnx: Path) -> Path:
    root = tmp_path_factory.mktemp("launch")
    write_plate_set(root, seed=7)
    config = {
        "Global": {"total_steps": STEPS, "eval_every": 2, "log_every": 1, "workers": 2, "threads": 2},
        "Optimizer": {"batch_size": 8, "lr": 5.0e-4, "warmup_steps": 1},
        "Data": {"train": [{"label_file": str(root / "train.tsv")}], "val": str(root / "val.tsv"),
                 "augment_prob": 0.0},
    }
    path = root / "config.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def train_one_node(config: Path, out: Path, steps: int) -> None:
    command = [sys.executable, "-m", "twplate", "train", "-c", str(config), "-o", f"Global.output_dir={out}",
               "-o", f"Global.total_steps={steps}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]


def train_two_nodes(config: Path, out: Path, steps: int) -> None:
    """``paddle.distributed.launch`` twice, as on two machines: ``--rank 0`` holds the master's port."""
    twplate = shutil.which("twplate", path=str(Path(sys.executable).parent))
    assert twplate, "the twplate console script is installed beside this Python"
    master = f"127.0.0.1:{free_port()}"
    launchers = [
        subprocess.Popen([sys.executable, "-m", "paddle.distributed.launch", "--nnodes", "2", "--nproc_per_node", "1",
                          "--master", master, "--rank", str(rank), "--log_dir", str(out.parent / f"launch-{rank}"),
                          twplate, "train", "-c", str(config), "-o", f"Global.output_dir={out}",
                          "-o", f"Global.total_steps={steps}"],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "PADDLE_DISTRI_BACKEND": "gloo"})
        for rank in (0, 1)
    ]
    for rank, launcher in enumerate(launchers):
        output, _ = launcher.communicate(timeout=900)
        logs = "".join(p.read_text(errors="replace")[-2000:] for p in (out.parent / f"launch-{rank}").glob("*"))
        assert launcher.returncode == 0, f"rank {rank}:\n{output[-2000:]}\n{logs}"


def losses(run: Path) -> list[float]:
    return [e["loss"] for e in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "loss" in e]


def weights(run: Path) -> dict[str, np.ndarray]:
    import paddle

    return {name: value.numpy() for name, value in paddle.load(str(run / "latest.pdparams")).items()}


def assert_same_training(one: Path, two: Path) -> None:
    np.testing.assert_allclose(losses(two), losses(one), rtol=1e-5)
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_two_nodes_train_as_one_node_with_two_workers_and_resume_alike(config_file: Path):
    root = config_file.parent
    one, two = root / "one-node", root / "two-nodes"
    train_one_node(config_file, one, STEPS)
    train_two_nodes(config_file, two, STEPS)
    assert len(losses(two)) == STEPS
    assert_same_training(one, two)
    log = (two / "train.log").read_text(encoding="utf-8")
    assert log.count(f"global_step: {STEPS}/{STEPS},") == 1  # one writer: rank 0
    assert json.loads((two / "latest.json").read_text())["step"] == STEPS

    train_one_node(config_file, one, MORE_STEPS)
    train_two_nodes(config_file, two, MORE_STEPS)
    log = (two / "train.log").read_text(encoding="utf-8")
    assert f"resume from {two / 'latest.pdparams'} at global_step: {STEPS}" in log
    assert len(losses(two)) == MORE_STEPS
    assert_same_training(one, two)


def _share_statistics_worker(out: str) -> None:
    """One process of a real 2-process gloo group: rank-dependent BatchNorm statistics, shared, written out."""
    import paddle
    import paddle.distributed as dist

    from twplate.training.loop import share_running_statistics

    dist.init_parallel_env()
    rank = dist.get_rank()
    net = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3), paddle.nn.BatchNorm2D(4))
    net[1]._mean.set_value(paddle.full([4], float(rank + 1)))
    net[1]._variance.set_value(paddle.arange(4, dtype="float32") * (rank + 1))
    weight = net[0].weight.numpy().copy()
    share_running_statistics(net, dist.get_world_size())
    np.savez(Path(out) / f"rank{rank}.npz", mean=net[1]._mean.numpy(), variance=net[1]._variance.numpy(),
             weight_changed=not np.array_equal(weight, net[0].weight.numpy()))


def test_processes_share_one_set_of_batchnorm_statistics(tmp_path: Path):
    """Each data-parallel process updates BatchNorm's running statistics from its own batches; before
    evaluating and saving, every process must hold their mean, so all measure the model the lead saves."""
    import paddle.distributed as dist

    dist.spawn(_share_statistics_worker, args=(str(tmp_path),), nprocs=2, backend="gloo")
    for rank in (0, 1):
        got = np.load(tmp_path / f"rank{rank}.npz")
        np.testing.assert_allclose(got["mean"], [1.5] * 4)
        np.testing.assert_allclose(got["variance"], np.arange(4) * 1.5)
        assert not got["weight_changed"]
