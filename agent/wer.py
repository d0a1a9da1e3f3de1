"""Word error rate: how many words a transcript got wrong against a reference."""

from __future__ import annotations

import re
from collections.abc import Sequence


def normalize(text: str) -> list[str]:
    """Words for WER: lower case, no punctuation (apostrophes kept), hyphens split words."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(ref: str, hyp: str) -> float | None:
    """Word errors per reference word (None for an empty reference)."""
    words = normalize(ref)
    return edit_distance(words, normalize(hyp)) / len(words) if words else None
