"""OpenVINO per precision against ONNX Runtime on real val: accuracy and parity (speed: interleaved.py).

Usage: python benchmarks/openvino_accuracy.py [--int8 MODEL_DIR] [--json out.json]

Every case reads all of ``val.tsv`` through :class:`twplate.PlateRecognizer` as users do (plate
formats as the model declares, batch 32): exact match, the share of readings identical to ONNX
Runtime's, and the largest probability difference from ONNX Runtime on the same batches (model
only, where shapes agree). Cases: OpenVINO fp32, bf16 (where the CPU has it), and an int8 model
(``--int8``, as ``python -m exporters.to_openvino --int8`` writes; by default
``models/twplate-rec-int8`` if it exists).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402

SHIPPED_INT8 = benchdata.REPO / "models" / "twplate-rec-int8"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--int8", type=Path, default=SHIPPED_INT8 if SHIPPED_INT8.is_dir() else None,
                        help="int8 model directory")
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    images, labels, source = benchdata.load_val()
    reference = PlateRecognizer(benchdata.MODEL, backend="onnxruntime", threads=args.threads)
    cases = {"onnxruntime fp32": reference}
    for precision in ("fp32", "bf16"):
        try:
            cases[f"openvino {precision}"] = PlateRecognizer(benchdata.MODEL, backend="openvino", precision=precision,
                                                             threads=args.threads)
        except ValueError as exc:  # no native bf16 on this CPU
            print(f"openvino {precision}: {exc}")
    if args.int8:
        cases["openvino int8"] = PlateRecognizer(args.int8, backend="openvino", precision="int8", threads=args.threads)
    batches = benchdata.model_batches(reference, images)
    probs = [reference.backend(b) for b in batches]
    texts = {name: [r.text for r in reader(images)] for name, reader in cases.items()}
    rows = []
    for name, reader in cases.items():
        diff = max(float(np.abs(reader.backend(b) - p).max()) for b, p in zip(batches, probs, strict=True))
        rows.append({"case": name, "providers": reader.backend.providers,
                     "exact_match": benchdata.exact_match(texts[name], labels),
                     "right": sum(t == label for t, label in zip(texts[name], labels, strict=True)),
                     "same_text_as_onnxruntime": benchdata.exact_match(texts[name], texts["onnxruntime fp32"]),
                     "max_probability_difference": diff})
    cpu = benchdata.cpu_description()
    print(f"{len(images)} images from {source}; model {benchdata.MODEL}; batch 32, {args.threads} threads; "
          f"CPU {cpu['model']}, flags {' '.join(cpu['flags'])}; without {' '.join(cpu['lacks']) or '-'}\n")
    print("| case | providers | exact match | right | same text as ORT | max prob. diff vs ORT |\n"
          "|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['case']} | {', '.join(row['providers'])} | {row['exact_match']:.2%} | {row['right']} | "
              f"{row['same_text_as_onnxruntime']:.2%} | {row['max_probability_difference']:.1e} |")
    if args.json:
        args.json.write_text(json.dumps({"model": str(benchdata.MODEL), "int8_model": str(args.int8), "source": source,
                                         "images": len(images), "threads": args.threads, "cpu": cpu, "rows": rows},
                                        indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
