"""Average the weights of several Students of one architecture into one checkpoint (a uniform "model soup").

Usage: python scripts/average_weights.py OUT_DIR MODEL [MODEL ...]

A ``MODEL`` is a training checkpoint (``.pdparams``) or an exported ONNX file (such as the shipped
``models/twplate-rec/inference.onnx``); every one must have the same character list and the same
shapes. Every tensor of the state, BatchNorm running statistics included, is the plain mean over the
models. ``OUT_DIR`` gets ``latest.pdparams`` and the ``config.yml`` of the first checkpoint's run
(its ``time_stride`` and dictionary), so ``twplate eval --checkpoint`` and ``python -m exporters``
read it as any run's checkpoint. Averaging only makes sense for fine-tunes of one starting model,
which stay in one basin of the loss (docs/accuracy.md measures it).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    import paddle

    from twplate.charset import Charset
    from twplate.training.config import RunSettings, load_config
    from twplate.training.model import model_of_run
    from twplate.training.pretrained import load_onnx_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("models", type=Path, nargs="+")
    args = parser.parse_args(argv)
    checkpoints = [m for m in args.models if m.suffix == ".pdparams"]
    if not checkpoints:
        parser.error("give at least one .pdparams checkpoint: its run's config.yml describes the average")
    config = checkpoints[0].parent / "config.yml"
    characters = list(Charset.from_file(load_config(config).Global.character_dict).characters)
    states = []
    for path in args.models:
        if path.suffix == ".onnx":
            settings = RunSettings.of(checkpoints[0])
            net = model_of_run(settings, len(characters) + 1)
            if load_onnx_weights(net, path) != characters:
                parser.error(f"{path} reads other characters than the dictionary of {config}")
            states.append({k: v.numpy() for k, v in net.state_dict().items()})
        else:
            states.append({k: np.asarray(v) for k, v in paddle.load(str(path), return_numpy=True).items()})
    for path, state in zip(args.models[1:], states[1:], strict=True):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            parser.error(f"{path} is not the same architecture as {args.models[0]}")
    mean = {k: np.mean([s[k] for s in states], axis=0).astype(states[0][k].dtype) for k in states[0]}
    args.out.mkdir(parents=True, exist_ok=True)
    paddle.save({k: paddle.to_tensor(v) for k, v in mean.items()}, str(args.out / "latest.pdparams"))
    shutil.copy(config, args.out / "config.yml")
    print(f"mean of {len(states)} models -> {args.out / 'latest.pdparams'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
