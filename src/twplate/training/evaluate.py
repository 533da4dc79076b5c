"""`twplate eval`: accuracy of a shipped model or a checkpoint on a label file, through twplate's pipeline.

Reports ``acc`` (exact plates) and ``norm_edit_dis`` as PaddleOCR does and the most common character
confusions; ``--misread FILE`` lists the misread images. An image that cannot be read counts as misread (nothing
read), is named on stderr and left out of the confusions, and the command then exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from twplate.backends import runtime_options
from twplate.charset import Charset, default_dictionary_path
from twplate.cli import INPUT_WIDTH_HELP, add_runtime_options, positive_int, speed_options
from twplate.photo import STEEP_CROP_ASPECT, PhotoReader
from twplate.recognizer import PlateRecognizer
from twplate.result import PlateResult

from .checkpoint import checkpoint_recognizer, load_student
from .config import RunSettings
from .dataset import Sample, read_label_file
from .metrics import RecMetrics


def evaluate(read: Callable[[list[str]], list[PlateResult]], samples: Sequence[Sample]) -> RecMetrics:
    """Read every sample with ``read`` (``PlateRecognizer.run_many``, ``PhotoReader.read_crops``) and score the
    readings against the labels."""
    results = read([str(s.path) for s in samples])
    metrics = RecMetrics()
    for sample, result in zip(samples, results, strict=True):
        if result.error is not None:
            metrics.add_unread(str(sample.path), sample.label, str(result.error))
        else:
            metrics.update([result.text], [sample.label], [str(sample.path)])
    return metrics


def format_confusion(expected: str, read: str) -> str:
    return f"{expected or '∅'} -> {read or '∅'}"


def recognizer_for(args: argparse.Namespace) -> PlateRecognizer:
    """The recognizer a command asked for: ``--checkpoint`` (dygraph) or ``--model`` (exported), the latter on
    any backend with its speed options (``--precision``, ``--streams``, ``--input-width``), so that each figure of
    docs/openvino.md is one command.

    Raises:
        ValueError: an unknown backend, an option the backend refuses (bf16 on a CPU without it), or a speed
            option with ``--checkpoint``, which runs in Paddle's dygraph at the run's own preprocessing.
    """
    speed = speed_options(args)
    if getattr(args, "checkpoint", None):
        if speed:
            raise ValueError("--precision, --streams and --input-width need --model: a checkpoint runs in Paddle at "
                             "its run's own preprocessing")
        characters = Charset.from_file(args.dict or default_dictionary_path()).characters
        settings = RunSettings.of(args.checkpoint)  # the run's own stride and preprocessing
        return checkpoint_recognizer(load_student(args.checkpoint, characters, settings.time_stride), characters,
                                     settings.preprocess,
                                     name=str(args.checkpoint), batch_size=args.batch_size,
                                     plate_formats=args.plate_formats)
    return PlateRecognizer(args.model, backend=args.backend, batch_size=args.batch_size,
                           plate_formats=args.plate_formats, **speed)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``/``--backend`` and the speed options for exported models, ``--checkpoint``/``--dict`` for training
    checkpoints."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--model", help="exported model directory, .onnx file or shipped model name "
                       "(default: the shipped model)")
    group.add_argument("--checkpoint", help="training checkpoint (.pdparams), or 'pretrained'")
    parser.add_argument("--dict", type=Path, help="dictionary of the checkpoint (default: the shipped one)")
    parser.add_argument("--backend", default="auto", help="backend for --model: auto, onnxruntime, paddle or openvino")
    add_runtime_options(parser)
    parser.add_argument("--input-width", type=positive_int, default=None, help=INPUT_WIDTH_HELP)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--no-plate-formats", dest="plate_formats", action="store_const", const=False,
                        default=None, help="plain greedy CTC reading, without fitting Taiwan plate formats")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("label_file", type=Path, help="label file: path<TAB>label per line")
    add_model_arguments(parser)
    parser.add_argument("--misread", type=Path, help="write misread images here (path<TAB>label<TAB>read)")
    parser.add_argument("--top", type=int, default=10, help="how many confusions to print")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--straighten", action="store_true",
                        help=f"read as PhotoReader.read_crops does: crops narrower than {STEEP_CROP_ASPECT}:1 are also "
                             "read through the text detector, which cuts a steeply hanging plate out upright")


def run(args: argparse.Namespace) -> int:
    try:
        recognizer = recognizer_for(args)
        read = (PhotoReader(recognizer=recognizer, backend=args.backend, **runtime_options(vars(args))).read_crops
                if args.straighten else recognizer.run_many)  # the detector takes the recognizer's precision
    except ValueError as exc:
        print(f"twplate eval: {exc}", file=sys.stderr)
        return 2
    metrics = evaluate(read, read_label_file(args.label_file))
    confusions = [(format_confusion(*pair), n) for pair, n in metrics.confusions.most_common(args.top)]
    for _, error in metrics.unread:
        print(f"twplate eval: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps({**metrics.summary(), "confusions": confusions, "misread": len(metrics.misread),
                          "unread": len(metrics.unread)}, ensure_ascii=False))
    else:
        print(f"acc: {metrics.acc:.4f}, norm_edit_dis: {metrics.norm_edit_dis:.4f} "
              f"({metrics.correct}/{metrics.total} plates exact)")
        for text, n in confusions:
            print(f"  {n:4d}  {text}")
    if args.misread:
        args.misread.write_text("".join(f"{p}\t{label}\t{read}\n" for p, label, read in metrics.misread),
                                encoding="utf-8")
    if metrics.unread:
        print(f"twplate eval: {len(metrics.unread)} of {metrics.total} images could not be read", file=sys.stderr)
        return 1
    return 0
