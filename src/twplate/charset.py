"""Character dictionaries and the CTC class layout: index 0 is the blank, then the dictionary in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ._paths import shipped_path

DEFAULT_DICTIONARY = "dict_taiwan_car.txt"


def default_dictionary_path() -> Path:
    """The shipped Taiwan plate dictionary (0-9, A-Z, ``-``, 軍 外 使 領 試 臨)."""
    return shipped_path("dict", DEFAULT_DICTIONARY)


@dataclass(frozen=True)
class Charset:
    """An ordered, duplicate-free tuple of characters; class ``i + 1`` of a CTC output is ``characters[i]``."""

    characters: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.characters:
            raise ValueError("a dictionary needs at least one character")
        if any(not c for c in self.characters):
            raise ValueError("a dictionary entry is empty")
        if len(set(self.characters)) != len(self.characters):
            dupes = sorted({c for c in self.characters if self.characters.count(c) > 1})
            raise ValueError(f"duplicate dictionary entries: {dupes}")

    @classmethod
    def from_iterable(cls, characters: Iterable[str]) -> Charset:
        return cls(tuple(str(c) for c in characters))

    @classmethod
    def from_file(cls, path: str | Path) -> Charset:
        """Read a dictionary file: UTF-8, one character per line, blank lines ignored."""
        text = Path(path).read_text(encoding="utf-8")
        return cls(tuple(line.strip("\r\n") for line in text.split("\n") if line.strip("\r\n")))

    @property
    def num_classes(self) -> int:
        """Size of the model output's class axis: the dictionary plus the blank."""
        return len(self.characters) + 1

    def encode(self, text: str) -> list[int]:
        """Class indices of ``text`` (1-based, as in the model output); KeyError on unknown characters."""
        index = {c: i + 1 for i, c in enumerate(self.characters)}
        return [index[c] for c in text]
