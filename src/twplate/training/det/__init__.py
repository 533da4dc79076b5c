"""Training the plate detector: the PP-OCRv3 detection Student fine-tuned on plates' number lines."""
