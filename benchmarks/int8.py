"""What int8 dynamic quantization does to accuracy and CPU speed on real val (a measurement; ships nothing).

Usage: python benchmarks/int8.py [MODEL] [--batch 32] [--rounds 3] [--threads N] [--json out.json]

Quantizes the model's ONNX file with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights,
activations quantized per batch at run time) into a temporary folder, twice: every op ORT can
quantize dynamically (Conv, MatMul, ...) and MatMul/Gemm only (the SVTR neck and the head, leaving
the convolutional backbone in fp32). A third variant, ``int8-static``, is static QDQ quantization
(``quantize_static``, uint8 activations calibrated on 256 real *train* crops, int8 per-channel
weights): the op layout quantization-aware training would export, so its speed is the ceiling of
what QAT could give on this CPU, whatever its post-training accuracy. Each file is read through
``PlateRecognizer`` on all of ``val.tsv`` against the fp32 model: exact match, agreement with fp32,
img/s (median of rounds, taken round-robin with fp32), size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchdata  # noqa: E402

from twplate import PlateRecognizer  # noqa: E402
from twplate.model_files import load_model_spec  # noqa: E402

VARIANTS = {"int8-all": None, "int8-matmul": ["MatMul", "Gemm"], "int8-static": "static"}
"""Per-channel int8 weights in all."""


def calibration_batches(spec, count: int = 256, batch: int = 32) -> list[np.ndarray]:
    """Real train crops (never val) through twplate's preprocessing, in batches of one width."""
    from twplate.preprocess import make_batch, resize_to_input

    real = benchdata.load_real("train", count)
    if real is None:
        raise FileNotFoundError(f"int8-static calibrates on real train crops: "
                                f"no {benchdata.data_root() / 'real' / 'train.tsv'}")
    crops = [resize_to_input(image, spec.preprocess) for image in real[0]]
    width = max(c.shape[1] for c in crops)
    return [make_batch(crops[i : i + batch], spec.preprocess, width) for i in range(0, len(crops), batch)]


def quantize(src: Path, out: Path, op_types: list[str] | str | None, spec=None) -> Path:
    """int8 dynamic quantization of ``src``, keeping its metadata (dictionary, input spec).

    paddle2onnx stores weights as ``Constant`` nodes, which ``quantize_dynamic`` does not treat as
    weights (it then quantizes nothing of the MatMuls and leaves Conv weights fp32 behind
    ConvInteger); they are made initializers first, and BatchNorm is folded into the convolutions
    (as ORT does at load time for fp32) so the int8 convolutions carry the folded weights.
    """
    import onnx
    import onnxoptimizer
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    extracted, prepared = out.with_suffix(".initializers.onnx"), out.with_suffix(".prepared.onnx")
    onnx.save(onnxoptimizer.optimize(onnx.load(str(src)), ["extract_constant_to_initializer"]), str(extracted))
    quant_pre_process(str(extracted), str(prepared), skip_symbolic_shape=True)  # ORT's basic fusions (BN into Conv)
    if op_types == "static":
        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.batches = iter({spec.input_name: b} for b in calibration_batches(spec))

            def get_next(self):
                return next(self.batches, None)

        softmax = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Softmax"][-1:]
        quantize_static(str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=softmax)  # the output stays float probabilities
    else:
        quantize_dynamic(str(prepared), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=op_types,
                         per_channel=True)
    model, source = onnx.load(str(out)), onnx.load(str(src), load_external_data=False)
    if not model.metadata_props:
        model.metadata_props.extend(source.metadata_props)
        onnx.save(model, str(out))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=str(benchdata.MODEL))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=benchdata.THREADS)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    spec = load_model_spec(args.model)
    src = spec.directory / spec.onnx_file
    images, labels, source = benchdata.load_val()
    print(f"{len(images)} images from {source}; batch {args.batch}, {args.threads} threads\n")
    print("| model | size MB | exact match | same text as fp32 | img/s | speed vs fp32 |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="twplate-int8-") as tmp:
        paths = {"fp32": src, **{name: quantize(src, Path(tmp) / f"{name}.onnx", VARIANTS[name], spec)
                                 for name in args.variants}}
        readers = {name: PlateRecognizer(path, backend="onnxruntime", batch_size=args.batch, threads=args.threads)
                   for name, path in paths.items()}
        # also the warm-up over every shape: timing a model cold once made int8 look 1.5x faster
        texts = {name: [r.text for r in reader(images)] for name, reader in readers.items()}
        seconds = benchdata.round_robin({name: lambda r=reader: r(images) for name, reader in readers.items()},
                                        args.rounds)
        rows = [{"model": name, "size_mb": path.stat().st_size / 1e6,
                 "exact_match": benchdata.exact_match(texts[name], labels),
                 "images_per_second": len(images) / statistics.median(seconds[name]),
                 "agreement": benchdata.exact_match(texts[name], texts["fp32"])} for name, path in paths.items()]
    base = rows[0]
    for row in rows:
        print(f"| {row['model']} | {row['size_mb']:.1f} | {row['exact_match']:.1%} | {row['agreement']:.1%} | "
              f"{row['images_per_second']:.1f} | {row['images_per_second'] / base['images_per_second']:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "batch": args.batch, "threads": args.threads,
                                         "cpu": benchdata.cpu_description(), "source": source, "rows": rows},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
