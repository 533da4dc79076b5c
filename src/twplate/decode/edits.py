"""Edit distances between readings: how a reading differs from its label, with the edits (:func:`alignment`,
training metrics), and how far the plate formats moved a reading (:func:`infix_distance`,
:func:`~twplate.decode.formats.decode_with_formats`)."""

from __future__ import annotations


def alignment(a: str, b: str) -> tuple[int, list[tuple[str, str]]]:
    """Levenshtein distance from ``a`` to ``b`` and the edits as (``a``'s, ``b``'s) pairs ('' = none)."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    edits, i, j = [], n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            if a[i - 1] != b[j - 1]:
                edits.append((a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            edits.append((a[i - 1], ""))
            i -= 1
        else:
            edits.append(("", b[j - 1]))
            j -= 1
    return d[n][m], edits[::-1]


def infix_distance(part: str, whole: str) -> int:
    """Edit distance from ``part`` to the closest stretch of ``whole``: characters of ``whole`` before and after
    that stretch cost nothing (a reading with stray characters at its ends holds a plate unchanged)."""
    previous = [0] * (len(whole) + 1)  # an empty part matches an empty stretch anywhere
    for i, a in enumerate(part, 1):
        current = [i] + [0] * len(whole)
        for j, b in enumerate(whole, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
        previous = current
    return min(previous)
