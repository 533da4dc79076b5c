"""`twplate infer`: read images with a training checkpoint (or any model), before exporting it."""

from __future__ import annotations

import argparse
import sys

from .evaluate import add_model_arguments, recognizer_for


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", help="image files")
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        recognizer = recognizer_for(args)
    except ValueError as exc:
        print(f"twplate infer: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for result in recognizer.run_many(args.images):
        if result.error is not None:
            print(f"twplate infer: {result.error}", file=sys.stderr)
            failed += 1
        else:
            print(f"{result.source}\t{result.text}\t{result.confidence:.4f}")
    return 1 if failed else 0
