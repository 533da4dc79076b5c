"""Turn a pytest-benchmark JSON file from ``benchmarks/`` into the README's markdown speed table.

Usage: python scripts/bench_table.py bench.json [--ratio-batch 32] > table.md

Images per second are ``images / median round time``. Rows: twplate end to end and model-only per
backend, then the peers; a column per batch size; the exact-match accuracy of the texts read
(same images for every row). Below the table: end-to-end / model-only (the pipeline's efficiency)
and twplate's speed relative to each peer at ``--ratio-batch``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def load_rows(path: Path) -> tuple[dict, dict[tuple[str, str, str], dict[int, dict]]]:
    """``(machine_info, {(pipeline, runtime, measure): {batch: extra_info + median}})``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows: dict[tuple[str, str, str], dict[int, dict]] = defaultdict(dict)
    for bench in data["benchmarks"]:
        info = dict(bench.get("extra_info", {}))
        if "pipeline" not in info:
            continue
        info["median"] = bench["stats"]["median"]
        key = (info["pipeline"], info.get("runtime", ""), info.get("measure", ""))
        rows[key][int(info.get("batch", 0))] = info
    return data.get("machine_info", {}), rows


def ips(info: dict) -> float:
    return info["images"] / info["median"]


def render(machine: dict, rows: dict, ratio_batch: int = 32) -> str:
    throughput = {k: v for k, v in rows.items() if k[2] in ("end-to-end", "model-only")}
    batches = sorted({b for cells in throughput.values() for b in cells})
    order = sorted(throughput, key=lambda k: (not k[0].startswith("twplate"), k[0], k[1] != "onnxruntime", k[1],
                                              k[2] != "end-to-end"))
    images = next((c["images"] for cells in throughput.values() for c in cells.values()), 0)
    threads = next((c.get("threads") for cells in throughput.values() for c in cells.values()), "?")
    cpu = machine.get("cpu", {}).get("brand_raw") or machine.get("machine", "")
    out = [f"Images per second (higher is better); {images} decoded images per round, median of the rounds; "
           f"{threads} threads; {cpu}.", "",
           "| pipeline | runtime | measure | " + " | ".join(f"batch {b}" for b in batches) + " | exact match |",
           "|---|---|---|" + "---:|" * len(batches) + "---:|"]
    for key in order:
        cells = throughput[key]
        accuracy = next((c["exact_match"] for c in cells.values() if "exact_match" in c), None)
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | "
                   + " | ".join(f"{ips(cells[b]):.1f}" if b in cells else "" for b in batches)
                   + f" | {'' if accuracy is None else f'{accuracy:.1%}'} |")
    out.append("")
    for runtime in sorted({k[1] for k in throughput if k[0] == "twplate"}):
        e2e, model = throughput.get(("twplate", runtime, "end-to-end"), {}), throughput.get(
            ("twplate", runtime, "model-only"), {})
        shared = [b for b in batches if b in e2e and b in model]
        if shared:
            out.append(f"* Efficiency, twplate {runtime} (end-to-end / model-only): "
                       + ", ".join(f"batch {b}: {ips(e2e[b]) / ips(model[b]):.0%}" for b in shared))
    for runtime in sorted({k[1] for k in throughput if k[0] == "twplate"}):
        mine = throughput.get(("twplate", runtime, "end-to-end"), {}).get(ratio_batch)
        if mine is None:
            continue
        peers = [(k, cells[ratio_batch]) for k, cells in throughput.items()
                 if not k[0].startswith("twplate") and ratio_batch in cells]
        if peers:
            out.append(f"* twplate {runtime} vs peers at batch {ratio_batch} (img/s ratio, >1: twplate faster): "
                       + ", ".join(f"{k[0]} ({k[1]}) {ips(mine) / ips(c):.2f}x" for k, c in sorted(peers)))
    loads = {k[1]: cells for k, cells in rows.items() if k[2] == "load"}
    if loads:
        out.append("* Load time (PlateRecognizer construction, median): "
                   + ", ".join(f"{runtime} {next(iter(c.values()))['median'] * 1000:.0f} ms"
                               for runtime, c in sorted(loads.items())))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="output of pytest --benchmark-json")
    parser.add_argument("--ratio-batch", type=int, default=32)
    args = parser.parse_args(argv)
    machine, rows = load_rows(args.json)
    if not rows:
        print(f"{args.json}: no twplate benchmark results in it", file=sys.stderr)
        return 1
    sys.stdout.write(render(machine, rows, args.ratio_batch))
    return 0


if __name__ == "__main__":
    sys.exit(main())
