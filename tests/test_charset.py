"""Dictionaries: the shipped file, the CTC class layout, and invalid dictionaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from twplate.charset import Charset, default_dictionary_path


def test_shipped_dictionary() -> None:
    charset = Charset.from_file(default_dictionary_path())
    assert charset.characters == (*"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", "-", *"軍外使領試臨")
    assert len(charset.characters) == 43 and charset.num_classes == 44


def test_encode_is_one_based_after_the_blank() -> None:
    charset = Charset.from_iterable("AB-")
    assert charset.encode("A-B") == [1, 3, 2]
    with pytest.raises(KeyError):
        charset.encode("AZ")


def test_from_file_handles_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes("A\r\n\r\n外\r\nB\n".encode())
    assert Charset.from_file(path).characters == ("A", "外", "B")


@pytest.mark.parametrize(("chars", "match"), [((), "at least one"), (("A", "A"), "duplicate"), (("A", ""), "empty")])
def test_invalid(chars: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Charset(chars)
