"""Format-aware decoding (``twplate.decode.formats``): hand-built CTC probabilities where greedy decoding breaks
the plate format, and the constrained search against brute force over every path of short inputs."""

from __future__ import annotations

import numpy as np
import pytest

from twplate.charset import Charset, default_dictionary_path
from twplate.decode import PLATE_FORMATS, constrained_decode, ctc_greedy_decode, decode_with_formats, is_plate
from twplate.decode.formats import _format_masks, infix_distance

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


@pytest.mark.parametrize("text", ["ABC-1234", "123-ABC", "1234-AB", "AB9-123", "試9109", "使22", "外0872", "GG-88",
                                  "AB-123", "A2-345", "567-B8", "0567-22", "22-0567"])
def test_valid_plates_are_recognised(text: str):
    assert is_plate(text)


@pytest.mark.parametrize("text", ["221PSE", "-7333-YJ", "ARY-389-", "AUM-Z608", "", "ABCD", "試-9109",
                                  "12-345", "123-45"])  # a 2+3 / 3+2 code is never two digits
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


def test_a_fitted_reading_counts_the_characters_the_formats_changed():
    """``format_edits``: 0 for a reading that fits as read, or whose only changes are a missing dash or stray
    characters dropped from its ends; else the edit distance of what changed inside it, where a dash read inside
    the reading counts unless the plate has it in the same place (a badge read ``HY-LU-1171-H1``: 2, not 1)."""
    one = clear("AUM-") + [{"Z": 0.55, "2": 0.40}, {"": 0.95}] + clear("608")
    two = clear("AUM-") + [{"Z": 0.55, "2": 0.40}, {"": 0.95}, {"Z": 0.55, "7": 0.40}, {"": 0.95}] + clear("08")
    dash = clear("221") + [{"": 0.6, "-": 0.35}] + clear("PSE")
    ends = [{"M": 0.5, "": 0.45}, {"": 0.95}] + clear("RCY-0838") + [{"T": 0.5, "": 0.45}]
    cases = {"AUM-2608": (one, 1), "AUM-2708": (two, 2), "221-PSE": (dash, 0), "NEW-3835": (clear("NEW-3835"), 0),
             "RCY-0838": (ends, 0), "HYL-1171": (clear("HY-LU-1171-H1"), 2)}
    for text, (steps, edits) in cases.items():
        [decoded] = decode_with_formats(path_probs(steps), CHARS)
        assert (decoded.text, decoded.format_edits) == (text, edits)


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


@pytest.mark.parametrize("dashes", ["-", "--", "---"])
def test_a_reading_of_only_dashes_is_not_fitted_into_a_plate(dashes: str):
    """A strip of a plate's border or noise read as dashes holds no character: it is kept as read (like an empty
    reading), not replaced by a plate the formats make up from noise."""
    steps = [{"": 0.5}] * 3 + [s for _ in dashes for s in ({"-": 0.6}, {"": 0.9})] + [{"": 0.5}] * 6
    probs = path_probs(steps)
    greedy = ctc_greedy_decode(probs, CHARS)
    assert greedy[0].text == dashes
    assert decode_with_formats(probs, CHARS) == greedy


def test_special_plate_without_dash():
    steps = clear("試91") + [{"-": 0.5, "": 0.45}] + clear("09")
    probs = path_probs(steps)
    assert ctc_greedy_decode(probs, CHARS)[0].text == "試91-09"
    assert decode_with_formats(probs, CHARS)[0].text == "試9109"



def test_recognizer_follows_the_model_unless_told(tiny_model_dir, formats_model):
    """Models declare format-aware decoding in inference.yml; the caller can override either way."""
    import tiny_models
    from twplate import PlateRecognizer

    image = tiny_models.stripe_image("AA")  # not a plate: greedy reads "AA"
    greedy = PlateRecognizer(tiny_model_dir)(image)
    assert (greedy.text, greedy.format_edits) == ("AA", 0)
    fitted = PlateRecognizer(tiny_model_dir, plate_formats=True)(image)
    assert fitted.text != "AA"
    assert fitted.format_edits == infix_distance(fitted.text.replace("-", ""), "AA") > 0  # carried to the result
    assert is_plate(PlateRecognizer(formats_model)(image).text)
    assert PlateRecognizer(formats_model, plate_formats=False)(image).text == "AA"


# ---------------------------------------------------------------- the constrained search against brute force

SMALL = ("A", "B", "1", "2", "-", "試")
"""A dictionary small enough to try every path of 6 steps (7**6 of them), in which plates of 5 and 6
characters of several formats fit (``XX-XX``, ``試DDDD``, ``LD-DDD``, ``DDD-DL``) among the longer ones
that do not."""


def brute_force(probs: np.ndarray, characters: tuple[str, ...]) -> tuple[str, list[float]] | None:
    """The reading of the most probable CTC path whose text fits a plate format, found by trying every path;
    with each character's probability at the first step of its run. ``None`` if no path fits."""
    steps, classes = probs.shape
    paths = np.arange(classes**steps)[:, None] // classes ** np.arange(steps - 1, -1, -1) % classes
    scores = np.log(probs)[np.arange(steps), paths].sum(axis=1)
    table = ["", *characters]
    for path in paths[np.argsort(-scores, kind="stable")]:
        firsts = [t for t in range(steps) if path[t] and (t == 0 or path[t] != path[t - 1])]
        text = "".join(table[path[t]] for t in firsts)
        if is_plate(text):
            return text, [float(probs[t, path[t]]) for t in firsts]
    return None


def _noisy_plate(steps: int, rng: np.random.Generator) -> np.ndarray:
    """Probabilities that half spell a plate of 5 to ``steps`` characters of SMALL, half random."""
    formats = [f for f in PLATE_FORMATS if len(f) <= steps and set(f) <= {"L", "D", "X", "-", "試"}]
    pools = {"L": "AB", "D": "12", "X": "AB12"}
    text = "".join(rng.choice(list(pools.get(c, c))) for c in formats[rng.integers(len(formats))])
    spelled = np.zeros(steps, int)
    spelled[np.sort(rng.choice(steps, len(text), replace=False))] = [SMALL.index(c) + 1 for c in text]
    probs = rng.dirichlet(np.full(len(SMALL) + 1, 0.5), size=steps)
    return 0.5 * probs + 0.5 * np.eye(len(SMALL) + 1)[spelled]


@pytest.mark.parametrize("steps", [3, 5, 6])
def test_constrained_decode_finds_the_most_probable_plate_path(steps: int) -> None:
    rng = np.random.default_rng(steps)
    for i in range(8):
        probs = _noisy_plate(steps, rng) if i % 2 and steps >= 5 else rng.dirichlet([0.2, 0.5, 1.0][i % 3] * np.ones(7),
                                                                                       size=steps)
        expected = brute_force(probs, SMALL)
        got = constrained_decode(probs, SMALL)
        if expected is None:
            assert got is None
            continue
        assert got is not None and got.text == expected[0]
        np.testing.assert_allclose(got.char_confidences, expected[1], rtol=1e-6)


def _sample_plate(fmt: str, rng: np.random.Generator) -> str:
    letters, digits = "ABCDEFGHJKLMNPQRSTUVWXYZ", "0123456789"
    pools = {"L": letters, "D": digits, "X": letters + digits}
    return "".join(rng.choice(list(pools[c])) if c in pools else c for c in fmt)


@pytest.mark.parametrize("fmt", PLATE_FORMATS)
def test_a_plate_the_greedy_path_spells_is_kept(fmt: str) -> None:
    """On full-length inputs: when the most probable path reads a plate, that plate is the answer."""
    rng = np.random.default_rng(len(fmt))
    for _ in range(3):
        text = _sample_plate(fmt, rng)
        steps = [s for ch in text for s in ({ch: float(rng.uniform(0.5, 0.95))}, {"": float(rng.uniform(0.5, 0.95))})]
        probs = path_probs(steps)[0]
        decoded = constrained_decode(probs, CHARS)
        assert decoded is not None and decoded.text == text == ctc_greedy_decode(probs[None], CHARS)[0].text


def test_masks_pad_shorter_formats_with_nothing_allowed() -> None:
    stacked = _format_masks(CHARS)
    lengths = stacked.any(axis=2).sum(axis=1)
    assert stacked.shape[1] == lengths.max() == 8  # LLL-DDDD
    for mask, n in zip(stacked, lengths, strict=True):
        assert mask[:n].any(axis=1).all() and not mask[n:].any()
