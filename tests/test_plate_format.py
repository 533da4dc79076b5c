"""Format-aware decoding: hand-built CTC probabilities where greedy decoding breaks the plate format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twplate.charset import Charset, default_dictionary_path
from twplate.decode import constrained_decode, ctc_greedy_decode, decode_with_formats, is_plate

CHARS = Charset.from_file(default_dictionary_path()).characters
INDEX = {c: i + 1 for i, c in enumerate(CHARS)}


def path_probs(steps: list[dict[str, float]]) -> np.ndarray:
    """(1, T, C) probabilities: each step is {char or '' (blank): probability}; the rest spread evenly."""
    probs = np.zeros((1, len(steps), len(CHARS) + 1), np.float32)
    for t, step in enumerate(steps):
        rest = 1.0 - sum(step.values())
        probs[0, t] = rest / (probs.shape[2] - len(step))
        for ch, p in step.items():
            probs[0, t, INDEX.get(ch, 0)] = p
    return probs


def clear(text: str) -> list[dict[str, float]]:
    """A confident path for ``text``, each character followed by a blank."""
    return [s for ch in text for s in ({ch: 0.95}, {"": 0.95})]


@pytest.mark.parametrize("text", ["ABC-1234", "123-ABC", "1234-AB", "AB9-123", "試9109", "使22", "外0872", "GG-88"])
def test_valid_plates_are_recognised(text: str):
    assert is_plate(text)


@pytest.mark.parametrize("text", ["221PSE", "-7333-YJ", "ARY-389-", "AUM-Z608", "", "ABCD", "試-9109"])
def test_invalid_plates_are_rejected(text: str):
    assert not is_plate(text)


def test_letter_among_digits_is_read_as_the_likely_digit():
    steps = clear("AUM-") + [{"Z": 0.55, "2": 0.40}, {"": 0.95}] + clear("608")
    probs = path_probs(steps)
    assert ctc_greedy_decode(probs, CHARS)[0].text == "AUM-Z608"
    [decoded] = decode_with_formats(probs, CHARS)
    assert decoded.text == "AUM-2608"
    assert len(decoded.char_confidences) == 8
    assert decoded.char_confidences[4] == pytest.approx(0.40, abs=1e-6)


def test_lost_dash_is_restored_where_the_model_saw_one_weakly():
    steps = clear("221") + [{"": 0.6, "-": 0.35}] + clear("PSE")
    probs = path_probs(steps)
    assert ctc_greedy_decode(probs, CHARS)[0].text == "221PSE"
    assert decode_with_formats(probs, CHARS)[0].text == "221-PSE"


def test_repeated_characters_need_a_blank_between_them():
    # "MMC-1108": the two 1s and the two Ms are separated by blanks in the path
    probs = path_probs(clear("MMC-1108"))
    assert constrained_decode(probs[0], CHARS).text == "MMC-1108"


def test_valid_greedy_reading_is_kept_unchanged():
    probs = path_probs(clear("NEW-3835"))
    greedy = ctc_greedy_decode(probs, CHARS)
    assert decode_with_formats(probs, CHARS) == greedy


def test_too_few_steps_for_any_format_keeps_the_greedy_reading():
    probs = path_probs([{"A": 0.9}, {"": 0.9}])
    assert decode_with_formats(probs, CHARS)[0].text == "A"


def test_special_plate_without_dash():
    steps = clear("試91") + [{"-": 0.5, "": 0.45}] + clear("09")
    probs = path_probs(steps)
    assert ctc_greedy_decode(probs, CHARS)[0].text == "試91-09"
    assert decode_with_formats(probs, CHARS)[0].text == "試9109"



def test_recognizer_follows_the_model_unless_told(tiny_model_dir, tmp_path):
    """Models declare format-aware decoding in inference.yml; the caller can override either way."""
    import shutil

    import yaml

    import tiny_models
    from twplate import PlateRecognizer

    image = tiny_models.stripe_image("AA")  # not a plate: greedy reads "AA"
    assert PlateRecognizer(tiny_model_dir)(image).text == "AA"
    assert PlateRecognizer(tiny_model_dir, plate_formats=True)(image).text != "AA"
    declared = Path(shutil.copytree(tiny_model_dir, tmp_path / "m"))
    doc = yaml.safe_load((declared / "inference.yml").read_text(encoding="utf-8"))
    doc["decode"] = {"plate_formats": True}
    (declared / "inference.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert is_plate(PlateRecognizer(declared)(image).text)
    assert PlateRecognizer(declared, plate_formats=False)(image).text == "AA"
