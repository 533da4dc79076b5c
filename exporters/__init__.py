"""Turn a trained Student into a shipped model directory: Paddle inference model, then ONNX.

Run from the repository root with the ``export`` and ``paddle`` extras installed::

    python -m exporters CHECKPOINT.pdparams --out models/twplate-rec --version 1.0
    python -m exporters pretrained --version 0.0.0 --out models/twplate-rec-zeroshot   # PP-OCRv3 weights, no training
    python -m exporters.detector CHECKPOINT.pdparams --version 2.1.0   # the plate detector -> models/twplate-det

Each step checks its own result against its source (the recognizer: probabilities within 1e-4 and identical
decoded text on rendered plates at several widths; the detector: maps within 5e-4 and the same boxes on drawn
photos) and raises :class:`ExportMismatch` if they differ.
"""
