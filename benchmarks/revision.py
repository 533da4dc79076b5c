"""Crop throughput of this checkout against another git revision, round-robin.

    python benchmarks/revision.py f4f00dc^ --batch 32 --rounds 12

A change must not slow the crop recognizer down: this reads real val (the files, decoded every round, as a
caller's paths are) with ``PlateRecognizer`` at its defaults in two processes. One imports twplate from this
checkout, the other from a temporary ``git worktree`` of REV, each with its own ``models/``. The two are timed
alternately (``benchdata.round_robin``), so a slow spell of a shared machine hits both; the ratio is the median
of the two's speed ratio within each round. Each side also reports how many val plates it read exactly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(batch: int, threads: int) -> None:
    """Load a recognizer from whichever twplate this process imports; read val once per line on stdin.

    Only twplate's public API is used here, which every revision has: ``benchdata`` (whose ``data_root`` this
    repeats) imports twplate internals that an older revision may lack."""
    import twplate
    from twplate import PlateRecognizer

    root = Path(os.environ.get("TWPLATE_DATA", REPO.parent / "shared" / "data")) / "real"
    rows = [line.split("\t") for line in (root / "val.tsv").read_text(encoding="utf-8").splitlines() if line.strip()]
    paths = [str(root / path) for path, _ in rows]
    reader = PlateRecognizer(batch_size=batch, threads=threads)

    def read() -> list[str]:
        if batch == 1:
            return [reader(path).text for path in paths]
        return [result.text for result in reader(paths)]

    exact = sum(text == label for text, (_, label) in zip(read(), rows, strict=True))
    print(json.dumps({"twplate": twplate.__file__, "exact": exact, "images": len(paths)}), flush=True)
    for _ in sys.stdin:
        read()
        print("done", flush=True)


class Side:
    """A worker process reading val with the twplate under ``tree``; calling it reads val once."""

    def __init__(self, tree: Path, batch: int, threads: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(tree / "src"))
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--batch", str(batch),
                   "--threads", str(threads)]
        self.process = subprocess.Popen(command, cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self.info = json.loads(self._line())

    def _line(self) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker under {self.process.args} ended (exit {self.process.wait()})")
        return line

    def __call__(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        self._line()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", nargs="?", help="the git revision to compare with, e.g. f4f00dc^")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.batch, args.threads)
        return
    if args.revision is None:
        parser.error("name the git revision to compare with")

    sys.path.insert(0, str(REPO / "benchmarks"))
    from benchdata import cpu_description, round_robin

    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(other), args.revision],
                       check=True)
        try:
            sides = {"this checkout": Side(REPO, args.batch, args.threads),
                     args.revision: Side(other, args.batch, args.threads)}
            seconds = round_robin(dict(sides), args.rounds)
            for side in sides.values():
                side.close()
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=True)
    report = {"revision": args.revision, "batch": args.batch, "rounds": args.rounds, "threads": args.threads,
              "cpu": cpu_description(), "cases": {}}
    for name, side in sides.items():
        rate = [side.info["images"] / s for s in seconds[name]]
        report["cases"][name] = {"median_img_per_s": round(statistics.median(rate), 1),
                                 "img_per_s": [round(r, 1) for r in rate], **side.info}
        print(f"{name:>16}: {statistics.median(rate):7.1f} img/s (median of {args.rounds}), "
              f"{side.info['exact']}/{side.info['images']} val plates exact, {side.info['twplate']}")
    # this checkout's speed over the revision's within each round, where both met the same machine; its median
    ours, theirs = (seconds[name] for name in sides)
    report["ratio"] = round(statistics.median(t / o for o, t in zip(ours, theirs, strict=True)), 3)
    print(f"this checkout / {args.revision}: {report['ratio']:.3f}x (median of the rounds' ratios); {report['cpu']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
