"""Recovering a long turn from a provider that makes words final only at the end of a turn.

Deepgram Flux sends finals only with ``EndOfTurn``. If the link drops every few seconds and a
turn lasts longer than that, no session lives to the end of the turn and no word is ever final:
each new session re-reads the turn from its start and is dropped again. The fallback is
LocalAgreement-2 *across sessions*: the last partial of the dropped session and a partial of the
new one are two readings of the same speech, over different lengths of audio. The words both
start with, after what is final already, are made final by us::

    final so far        | my line
    dropped session     |         drops every evening at ar          (audio up to the drop)
    new session         |         drops every evening around eight   (more audio)
    agreed -> final     |         drops every evening                <- common prefix
    (left partial)      |                             around eight

Two readings that end at the same point are not compared: a provider reading the same audio the
same way agrees with itself and proves nothing. The shorter reading's last word is never taken:
its audio was cut there. The agreed words carry the newer reading's times.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.asr.local_agreement import norm
from agent.events import Word

MIN_GAP_S = 0.25
"""Readings whose last words end closer than this cover the same audio: no agreement."""
SAME_START_S = 0.25
"""Two readings of one word start within this of each other."""


def agreed_words(
    dropped: Sequence[Word], current: Sequence[Word], after: float, tail: Sequence[Word] = ()
) -> list[Word]:
    """Words of ``current`` that ``dropped`` read the same, in order from the first word after
    ``after`` (media time up to which finals exist), stopping at the first disagreement.
    ``tail``, the last final words, are not taken again when a reading re-times them."""
    old, new = fresh_words(dropped, after, tail), fresh_words(current, after, tail)
    if not old or not new or abs(old[-1].end - new[-1].end) < MIN_GAP_S:
        return []
    shorter = min(len(old), len(new)) - 1  # the shorter reading's last word is not taken
    agreed = []
    for a, b in zip(old[:shorter], new[:shorter], strict=True):
        if norm(a.text) != norm(b.text) or abs(a.start - b.start) > SAME_START_S:
            break
        agreed.append(b)
    return agreed


def fresh_words(words: Sequence[Word], after: float, tail: Sequence[Word] = ()) -> list[Word]:
    """The words of a reading that are not final yet: those mostly after ``after`` (the end of
    the last final), less a first word that is the last final word (``tail[-1]``; ``tail`` holds
    the last final words, oldest first) read again after a replay, re-timed to end later: the
    same text starting before it ended, or any text spanning most of it, or the same text after
    the same word as in the finals (the reading has one "the" after "restarted", as the finals
    do: a second would need two)::

        last final   ...  great|                  (ends at 17.98)
        replayed     ...  gre|at  see you then    "great" 17.70-18.30: mostly after 17.98,
                                                  but the same word: not passed on twice
        last final   ...  s  K|                   "K" 3.58-3.74
        replayed     ...  s  cha|os               "chaos" 3.58-3.96 spans all of "K": the same
                                                  sound read as another word, not a new one
        last final   ...  restarted the|          "the" 9.86-9.92
        next reading ...  restarted  |the router  "the" 9.94-10.10, after "restarted": the same
    """
    first = next((i for i, w in enumerate(words) if (w.start + w.end) / 2 > after), len(words))
    fresh = list(words[first:])
    if fresh and tail and (_read_again(fresh[0], tail[-1]) or _same_place(words, first, tail)):
        fresh = fresh[1:]
    return fresh


def _same_place(words: Sequence[Word], i: int, tail: Sequence[Word]) -> bool:
    """``words[i]`` has the last final word's text and follows, in its reading, a word read over
    the final word before that one, with that word's text."""
    if i == 0 or len(tail) < 2 or norm(words[i].text) != norm(tail[-1].text):
        return False
    before, final_before = words[i - 1], tail[-2]
    overlap = min(before.end, final_before.end) - max(before.start, final_before.start)
    return norm(before.text) == norm(final_before.text) and overlap > 0


_SAME_TIME_S = 0.01
"""Word times closer than this are the same time (providers give them on a 10-20 ms grid)."""


def _read_again(word: Word, last: Word) -> bool:
    """``word`` is ``last`` read again: its text starting before ``last`` ended (or as it ended),
    or over half of ``last``'s time under it. A reading squeezed at the end of its audio can give
    ``last`` no duration, and then where it really ended is not known: the same text starting
    within ``SAME_START_S`` of it is the same word::

        last final   ... on  my|               "my" 1.86-1.86 (squeezed)
        next reading ... on    my  calendar    "my" 1.92-2.12: the same word, not "my my"
    """
    squeezed = last.end - last.start < _SAME_TIME_S
    reach = SAME_START_S if squeezed else _SAME_TIME_S
    if norm(word.text) == norm(last.text) and word.start < last.end + reach:
        return True
    overlap = min(word.end, last.end) - max(word.start, last.start)
    return overlap > 0.5 * (last.end - last.start)


def longer(a: Sequence[Word], b: Sequence[Word]) -> tuple[Word, ...]:
    """Of two readings, the one reaching further into the audio (``a`` on a tie)."""
    end_a = a[-1].end if a else float("-inf")
    end_b = b[-1].end if b else float("-inf")
    return tuple(b if end_b > end_a else a)
