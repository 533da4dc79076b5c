"""Plate kinds: what each kind's labels look like, its colour schemes, and the registry of kinds.

A kind function samples a label (prefix ranges and formats as issued) and a colour scheme, and asks
the :class:`~.render.Renderer` for the flat plate: ``KINDS[name](renderer, rng) -> (label, Plate)``.
``WEIGHTS`` is the default mix, ``parse_kinds`` reads ``--kinds``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .draw import BLACK, GREEN, RED, WHITE, YELLOW, Colour, pick
from .render import Plate, Renderer

KindFn = Callable[[Renderer, np.random.Generator], tuple[str, Plate]]

DIGITS = "0123456789"
DIGITS_2014 = "012356789"          # new plates use no 4
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LETTERS_2014 = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # new plates use no I and no O
LETTERS_OLD = LETTERS               # 1992-era plates may use I and O
# ROC_1992.png: a 1992-series two-character code uses no I, O, 0 or 1, except the early letter-letter codes in
# front of four digits (AI-4329); two digits only on rentals, always a pair of one digit, never 00 or 11
CODE_LETTERS = LETTERS.replace("I", "").replace("O", "")
CODE_DIGITS = "23456789"

# ------------------------------------------------------------- 2014 prefixes
# (ranges, text colour, background colour, weight, wheelchair symbol) from ROC_2014.png
Scheme2014 = tuple[list[str], Colour, Colour, float, bool]
CAR2014: list[Scheme2014] = [
    (["AJF-DZZ", "FAA-GZZ", "UAA-VZZ", "EAN-EZZ"], BLACK, WHITE, 0.38, False),  # private car
    (["WAC-WDZ", "WEF-WEZ"], BLACK, WHITE, 0.04, True),                        # disabled driver
    (["RAQ-RDZ", "RFA-RZZ", "REN-REZ"], BLACK, WHITE, 0.10, False),            # rental
    (["KEA-KHZ", "KSA-KSZ"], GREEN, WHITE, 0.05, False),                       # private truck
    (["KJA-KJZ"], GREEN, WHITE, 0.02, False),                                  # private bus
    (["HAA-HAZ"], GREEN, WHITE, 0.02, False),                                  # private trailer
    (["KKA-KKZ"], WHITE, GREEN, 0.03, False),                                  # commercial bus
    (["KLA-KMZ", "KRA-KRZ"], WHITE, GREEN, 0.05, False),                       # commercial truck
    (["KNA-KNZ"], WHITE, GREEN, 0.02, False),                                  # commercial tractor
    (["KPA-KPZ", "KTA-KTZ"], WHITE, GREEN, 0.05, False),                       # commercial small truck
    (["HBA-HDZ"], WHITE, GREEN, 0.03, False),                                  # commercial trailer
    (["TAA-TZZ"], RED, WHITE, 0.10, False),                                    # taxi
    (["KAA-KDZ"], WHITE, RED, 0.05, False),                                    # tour bus
    (["KQA-KQD"], BLACK, YELLOW, 0.03, False),                                 # traffic school car
]
EV2014: list[Scheme2014] = [
    (["EAB-EAK"], BLACK, WHITE, 0.40, False),   # electric private car
    (["EAL-EAL"], GREEN, WHITE, 0.15, False),   # electric bus
    (["EAM-EAM"], RED, WHITE, 0.15, False),     # electric taxi
    (["REA-REM"], BLACK, WHITE, 0.20, False),   # electric rental
    (["WEA-WEE"], BLACK, WHITE, 0.10, True),    # electric, disabled driver
]
MOTO2014: list[Scheme2014] = [
    (["MAY-NZZ"], BLACK, WHITE, 0.55, False),   # ordinary heavy scooters, 8th generation M*/N*
    (["PAA-PZZ", "JAA-JZZ", "XAA-ZZZ", "WFA-WZZ", "QNA-QZZ", "LNA-LZZ", "HEA-HZZ",
      "KUA-KZZ", "KQE-KQZ", "SFA-SZZ"], BLACK, WHITE, 0.16, False),
    (["QAL-QMZ"], WHITE, GREEN, 0.05, False),   # light motorcycles
    (["SAC-SEZ"], RED, WHITE, 0.05, False),     # small light motorcycles
    (["LAD-LFZ"], BLACK, YELLOW, 0.04, False),  # large heavy motorcycles
    (["LGA-LMZ"], WHITE, RED, 0.03, False),     # 550 cc and above
    (["EMA-EPZ"], BLACK, WHITE, 0.12, False),   # electric scooters (banner or not: see docs)
]


def _code(s: str) -> int:
    """A 2014 three-letter prefix as a number, so prefix ranges can be sampled uniformly."""
    a = LETTERS_2014
    return (a.index(s[0]) * 24 + a.index(s[1])) * 24 + a.index(s[2])


def _decode(n: int) -> str:
    a = LETTERS_2014
    return a[n // 576] + a[(n // 24) % 24] + a[n % 24]


def _prefix(rng: np.random.Generator, ranges: Sequence[str]) -> str:
    """A prefix drawn uniformly from the union of ``ranges`` (``"AAA-AZZ"``...)."""
    spans = [(_code(r[:3]), _code(r[4:])) for r in ranges]
    sizes = [hi - lo + 1 for lo, hi in spans]
    lo, hi = pick(rng, spans, sizes)
    return _decode(int(rng.integers(lo, hi + 1)))


def _digits(rng: np.random.Generator, n: int, alphabet: str = DIGITS, nonzero: bool = True) -> str:
    while True:
        s = "".join(alphabet[int(rng.integers(len(alphabet)))] for _ in range(n))
        if not nonzero or s.strip("0"):
            return s


def _fill_format(rng: np.random.Generator, fmt: str, letters: str = LETTERS_OLD, digits: str = DIGITS) -> str:
    """``fmt`` with each ``L`` a letter and each ``D`` a digit (``"DDD-LL"`` -> ``"123-AB"``)."""
    out: list[str] = []
    for c in fmt:
        if c == "L":
            # I and O are rare on old plates
            a = letters if rng.random() < 0.35 else letters.replace("I", "").replace("O", "")
            out.append(a[int(rng.integers(len(a)))])
        elif c == "D":
            out.append(digits[int(rng.integers(len(digits)))])
        else:
            out.append(c)
    return "".join(out)


def _code_1992(rng: np.random.Generator, shape: str, early: bool = False) -> str:
    """A 1992-series plate's two-character code of ``shape`` (``LL``, ``LD``, ``DL``, or ``DD`` for a rental)
    by the rules of ``ROC_1992.png``; ``early``: an early letter-letter code, which may use I and O."""
    if shape == "DD":
        return CODE_DIGITS[int(rng.integers(len(CODE_DIGITS)))] * 2
    if early:
        return _fill_format(rng, shape)
    return "".join(CODE_LETTERS[int(rng.integers(len(CODE_LETTERS)))] if c == "L"
                   else CODE_DIGITS[int(rng.integers(len(CODE_DIGITS)))] for c in shape)


# ------------------------------------------------------------------ kinds
def _sample_2014(rng: np.random.Generator, table: list[Scheme2014]) -> tuple[str, Colour, Colour, bool, list[str]]:
    ranges, tc, bg, _, wc = pick(rng, table, [t[3] for t in table])
    return _prefix(rng, ranges) + "-" + _digits(rng, 4, DIGITS_2014), tc, bg, wc, ranges


def k_car2014(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    label, tc, bg, wc, _ = _sample_2014(rng, CAR2014)
    return label, r.plate2014(rng, label, tc, bg, wheelchair=wc)


def k_ev2014(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    label, tc, bg, wc, _ = _sample_2014(rng, EV2014)
    return label, r.plate2014(rng, label, tc, bg, ev=True, wheelchair=wc)


def k_moto2014(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    label, tc, bg, wc, ranges = _sample_2014(rng, MOTO2014)
    return label, r.plate2014(rng, label, tc, bg, ev=ranges == ["EMA-EPZ"], moto=True)


def k_car1992(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    fmt = pick(rng, ["LL-DDDD", "DL-DDDD", "LD-DDDD", "DD-DDDD", "DDDD-LL", "DDDD-LD", "DDDD-DL", "DDDD-DD"],
               [0.10, 0.12, 0.08, 0.02, 0.42, 0.18, 0.03, 0.05])  # DD: rentals
    number = _fill_format(rng, "DDDD")
    if fmt.endswith("DDDD"):
        label = _code_1992(rng, fmt[:2], early=fmt.startswith("LL")) + "-" + number
    else:
        label = number + "-" + _code_1992(rng, fmt[5:])
    variant = pick(rng, ["region", "none", "ev", "wheelchair"], [0.4, 0.45, 0.08, 0.07])
    if variant in ("ev", "wheelchair") and not fmt.startswith("DDDD"):
        variant = "none"
    # black characters, electric plates too (the red and green electric plates are 3+2: small1992)
    return label, r.plate1992(rng, label, BLACK, WHITE, banner=variant if variant != "wheelchair" else "none",
                              wheelchair=variant == "wheelchair")


def k_small1992(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    layout = pick(rng, ["2+3", "3+2", "2+2"], [0.4, 0.45, 0.15])
    if layout == "2+3":
        label = _code_1992(rng, pick(rng, ["LL", "LD", "DL"], [0.6, 0.3, 0.1])) + "-" + _fill_format(rng, "DDD")
        tc, bg = pick(rng, [(RED, WHITE), (WHITE, RED), (BLACK, YELLOW), (GREEN, WHITE), (WHITE, GREEN)],
                      [0.35, 0.2, 0.15, 0.15, 0.15])
    elif layout == "3+2":
        label = _fill_format(rng, "DDD") + "-" + _code_1992(rng, pick(rng, ["LL", "LD", "DL"], [0.6, 0.3, 0.1]))
        tc, bg = pick(rng, [(WHITE, GREEN), (GREEN, WHITE), (WHITE, RED), (RED, WHITE), (BLACK, WHITE)],
                      [0.3, 0.3, 0.15, 0.15, 0.1])
    else:
        label = _fill_format(rng, pick(rng, ["DD-LD", "LL-DD", "DD-DD", "LL-LL"], [0.4, 0.4, 0.1, 0.1]))
        tc, bg = pick(rng, [(GREEN, WHITE), (WHITE, GREEN)])
    banner = pick(rng, ["region", "none", "ev"], [0.55, 0.35, 0.10])
    if banner == "ev" and (layout != "3+2" or bg != WHITE or tc not in (RED, GREEN)):  # electric 3+2: red or green
        banner = "region"
    return label, r.plate1992(rng, label, tc, bg, banner=banner)


def k_scooter_old(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
    fmt = pick(rng, ["DDD-LLL", "LLL-DDD", "LLD-DDD", "LDL-DDD", "DLL-DDD", "LDD-DDD", "DLD-DDD"],
               [0.55, 0.12, 0.10, 0.10, 0.07, 0.04, 0.02])
    label = _fill_format(rng, fmt)
    tc, bg = pick(rng, [(BLACK, WHITE), (WHITE, GREEN), (GREEN, WHITE), (RED, WHITE), (BLACK, YELLOW)],
                  [0.84, 0.05, 0.05, 0.03, 0.03])
    banner = rng.random() < (0.35 if fmt == "DDD-LLL" else 0.8)
    return label, r.scooter_old(rng, label, tc, bg, banner=banner)


def _special(kind: str, ch: str, ndigits: Sequence[int]) -> KindFn:
    """The kind function of a special plate: ``ch`` and one of ``ndigits`` digits."""
    def f(r: Renderer, rng: np.random.Generator) -> tuple[str, Plate]:
        n = ndigits[int(rng.integers(len(ndigits)))]
        label = ch + _digits(rng, n)
        return label, r.special(rng, kind, label)
    return f


KINDS: dict[str, KindFn] = {
    "car2014": k_car2014,
    "ev2014": k_ev2014,
    "moto2014": k_moto2014,
    "car1992": k_car1992,
    "small1992": k_small1992,
    "scooter_old": k_scooter_old,
    "test": _special("test", "試", [4]),
    "diplomat": _special("diplomat", "使", [2, 3]),
    "foreign": _special("foreign", "外", [4]),
    "military": _special("military", "軍", [4, 5]),
    "consular": _special("consular", "領", [2, 3]),
    "temporary": _special("temporary", "臨", [4]),
}
# default mix: roughly the real data's shares, with ~18% special plates
WEIGHTS = {
    "car2014": 0.12, "ev2014": 0.05, "moto2014": 0.34, "car1992": 0.09, "small1992": 0.05,
    "scooter_old": 0.17,
    "test": 0.035, "diplomat": 0.03, "foreign": 0.035, "military": 0.03, "consular": 0.025,
    "temporary": 0.025,
}
SPECIAL = ("test", "diplomat", "foreign", "military", "consular", "temporary")
ALIASES = {"shi4": "test", "shi": "test", "shi3": "diplomat", "wai": "foreign", "jun": "military",
           "ling": "consular", "lin": "temporary"}
GROUPS = {"special": SPECIAL, "regular": tuple(k for k in KINDS if k not in SPECIAL), "all": tuple(KINDS)}
CJK_NEEDED = {"test": "試", "diplomat": "使", "foreign": "外", "military": "軍", "consular": "領",
              "temporary": "臨", "ev2014": "電動車", "moto2014": "電動車", "car1992": "電動車",
              "small1992": "電動車"}


def parse_kinds(spec: str | Sequence[str] | None) -> list[str]:
    """'special' / 'shi4,wai' / ['car2014', ...] / None -> list of kind names."""
    if spec is None or spec == "" or spec == []:
        return list(KINDS)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for it in items:
        it = it.strip().lower()
        if not it:
            continue
        it = ALIASES.get(it, it)
        if it in GROUPS:
            out.extend(GROUPS[it])
        elif it in KINDS:
            out.append(it)
        else:
            raise ValueError(f"unknown plate kind {it!r}; known: {', '.join(KINDS)}, groups: "
                             f"{', '.join(GROUPS)}, aliases: {', '.join(ALIASES)}")
    return list(dict.fromkeys(out))
