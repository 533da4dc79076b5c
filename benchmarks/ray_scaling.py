"""Ray Data reading: throughput with 1 and 2 reader actors, the driver's overhead, and where a worker's time goes.

    python benchmarks/ray_scaling.py [--images 2000] [--rounds 2] [--nodes 2] [--out results.json]

Real val crops (``real/val.tsv``, cycled to ``--images`` paths) are read from files by
:func:`twplate.ray.read` with 1 and 2 actors, alternating in each round (``benchdata.round_robin``).
A local cluster of 2 CPUs starts on 127.0.0.1: one node, or with ``--nodes 2`` two nodes of one
CPU each (``ray.cluster_utils.Cluster``: two raylets, each with its own object store, so blocks
travel between nodes as on two machines). Each Ray run's seconds include starting its actors;
its steady throughput counts the rows after the first block came back, over the time since.

In the same process, without Ray and on one thread, it times the parts of a worker's job on
the same files: reading the bytes, decoding them (``load_image``), and the whole recognizer
(``PlateRecognizer(threads=1, load_threads=1).run_many(paths)``); the model's share is the
difference. The driver's overhead per image is the 1-actor steady time per image over the local time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchdata import cycle, data_root, round_robin


def val_paths() -> list[str]:
    tsv = data_root() / "real" / "val.tsv"
    if not tsv.is_file():
        raise SystemExit(f"needs the real data set: {tsv} is missing")
    return [str(tsv.parent / line.split("\t")[0]) for line in tsv.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def cpu_info() -> dict[str, str]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    return {"model": fields.get("Model name", platform.processor()).strip(), "cpus": fields.get("CPU(s)", "").strip(),
            "flags": " ".join(f for f in flags if f.startswith(("avx", "fma", "amx", "sse4")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1, help="local Ray nodes sharing the 2 CPUs")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures here as JSON")
    args = parser.parse_args()

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read by Ray on import: a node on 127.0.0.1
    import ray

    from twplate import PlateRecognizer
    from twplate.image import load_image
    from twplate.ray import read

    paths = cycle(val_paths(), args.images)
    cluster = None
    if args.nodes == 2:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
    else:
        for attempt in range(3):  # Ray gives a node 30 s to start, which a loaded machine can exceed
            try:
                ray.init("local", num_cpus=2, include_dashboard=False, log_to_driver=False)
                break
            except Exception:
                if attempt == 2:
                    raise
    ray.data.DataContext.get_current().enable_progress_bars = False
    nodes = len([n for n in ray.nodes() if n["Alive"]])

    steady: dict[int, list[float]] = {1: [], 2: []}

    def on_ray(actors: int):
        """Read ``paths`` on ``actors`` readers; the throughput after the first rows came back goes to ``steady``."""
        def run() -> None:
            first = first_rows = rows = 0
            for batch in read(paths, concurrency=actors).iter_batches(batch_size=None, batch_format="pyarrow"):
                if not first:
                    first, first_rows = time.perf_counter(), batch.num_rows
                rows += batch.num_rows
            assert rows == len(paths)
            steady[actors].append((rows - first_rows) / (time.perf_counter() - first))
            print(f"{actors} actor(s): {steady[actors][-1]:.1f} images/s after the first rows", file=sys.stderr)
        return run

    local = PlateRecognizer(threads=1, load_threads=1)
    local.run_many(paths[:64])  # warm-up

    def read_bytes() -> None:
        for p in paths:
            Path(p).read_bytes()

    def decode() -> None:
        for p in paths:
            load_image(p)

    def logged(name: str, call):
        def run() -> None:
            start = time.perf_counter()
            call()
            print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        return run

    cases = {"ray_1_actor": on_ray(1), "ray_2_actors": on_ray(2), "local_read_bytes": read_bytes,
             "local_decode": decode, "local_recognizer": lambda: local.run_many(paths)}
    seconds = round_robin({name: logged(name, call) for name, call in cases.items()}, args.rounds)
    best = {name: min(times) for name, times in seconds.items()}
    n = len(paths)
    fastest = {actors: max(values) for actors, values in steady.items()}
    figures = {
        "cpu": cpu_info(), "nodes": nodes, "images": n, "rounds": args.rounds, "seconds": seconds,
        "ray_images_per_s_whole_run": {f"{a}_actors": n / best[name] for a, name in
                                       ((1, "ray_1_actor"), (2, "ray_2_actors"))},
        "ray_steady_images_per_s": {f"{a}_actors": fastest[a] for a in (1, 2)},
        "ray_steady_per_round": {f"{a}_actors": steady[a] for a in (1, 2)},
        "scaling_2_vs_1": fastest[2] / fastest[1],
        "local_images_per_s": {"read_bytes": n / best["local_read_bytes"], "decode": n / best["local_decode"],
                               "recognizer": n / best["local_recognizer"]},
        "decode_share_of_local": best["local_decode"] / best["local_recognizer"],
        "driver_overhead_ms_per_image": 1000 * (1 / fastest[1] - best["local_recognizer"] / n),
        "note": "other agents were loading this 2-core machine during the run",
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    ray.shutdown()
    if cluster is not None:
        cluster.shutdown()


if __name__ == "__main__":
    main()
