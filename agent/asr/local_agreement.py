"""LocalAgreement-2 (Macháček et al., 2023): commit what two consecutive hypotheses agree on.

No model inside. Each call to :meth:`LocalAgreement.insert` gives the words of a new hypothesis
for the growing audio buffer (times in media seconds). The words both this hypothesis and the
previous one start with, after what is already committed, become final::

    committed      | and so my fellow
    previous hyp   |                  americans ask knot
    new hyp        |                  americans ask not what
    commit now     |                  americans ask          <- longest common prefix
    partial        |                                not what  <- the new hypothesis' tail

Committed words go to an append-only ledger: never edited, never removed. A new hypothesis
usually repeats the end of what is committed (the audio buffer still holds it); those words are
skipped by time, and by matching up to five words at the seam. :meth:`finalize` commits the
current tail without waiting for agreement: the caller uses it when the speaker stops, so a turn
never waits for words that will not come, and before cutting audio that holds uncommitted words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.events import Word

_SEAM_SLACK_S = 0.1
_MAX_SEAM_WORDS = 5
_SEAM_WINDOW_S = 1.0  # only words starting this close to the last committed end can repeat it


def norm(text: str) -> str:
    """A word as compared for agreement: lower case, no punctuation."""
    return re.sub(r"[^\w']+", "", text.lower())


class LocalAgreement:
    """Commits the longest common prefix of the last two hypotheses."""

    def __init__(self) -> None:
        self._ledger: list[Word] = []
        self._previous: list[Word] = []  # uncommitted tail of the last hypothesis

    @property
    def committed(self) -> Sequence[Word]:
        """Every committed word, in order (a read-only copy of the ledger)."""
        return tuple(self._ledger)

    def recent(self, n: int) -> list[Word]:
        """The last ``n`` committed words (cheap, whatever the ledger's length)."""
        return self._ledger[-n:]

    @property
    def partial(self) -> list[Word]:
        """The uncommitted tail of the latest hypothesis (display only)."""
        return list(self._previous)

    @property
    def last_committed_end(self) -> float:
        return self._ledger[-1].end if self._ledger else 0.0

    def insert(self, hypothesis: Sequence[Word]) -> list[Word]:
        """A new hypothesis for the buffer; returns the words committed by it (maybe none)."""
        new = self.after_committed(hypothesis)
        commit: list[Word] = []
        for old, word in zip(self._previous, new, strict=False):
            if norm(old.text) != norm(word.text):
                break
            commit.append(word)
        self._ledger.extend(commit)
        rest = new[len(commit) :]
        if commit:  # the seam repeat again, now inside this hypothesis
            rest = rest[_overlap([norm(w.text) for w in self._ledger[-_MAX_SEAM_WORDS:]], rest, 2) :]
        self._previous = rest
        return commit

    def finalize(self, until: float | None = None) -> list[Word]:
        """Commit the current tail as it is, without agreement; returns those words.

        Used when the speaker stops (the whole tail), and when the audio buffer must be cut
        before agreement came (``until``: only the words that end by then).
        """
        if until is None:
            commit, self._previous = self._previous, []
        else:
            n = next((i for i, w in enumerate(self._previous) if w.end > until + 1e-9), len(self._previous))
            commit, self._previous = self._previous[:n], self._previous[n:]
        self._ledger.extend(commit)
        return commit

    def continue_tail(self, hypothesis: Sequence[Word]) -> list[Word]:
        """Extend the partial with the words of ``hypothesis`` that come after it *by text*;
        returns the words added.

        For a reading whose word times collapsed (tiny models sometimes squeeze a buffer into
        "your(0-2.2 s) country(2.2-3.2 s)"), so that matching by time drops the new words: the
        reading is placed where its first words repeat the end of committed + partial text, and
        what follows is added, its times kept after the partial's end::

            committed + partial   ... can do | for your
            reading                              your country
            partial becomes                  for your country
        """
        known = [norm(w.text) for w in [*self._ledger[-_MAX_SEAM_WORDS:], *self._previous]]
        said = [norm(w.text) for w in hypothesis]
        for start in range(max(0, len(known) - len(said)), len(known)):
            overlap = known[start:]
            if said[: len(overlap)] == overlap:
                added = self._after_tail(hypothesis[len(overlap) :])
                self._previous += added
                return added
        return []

    def _after_tail(self, words: Sequence[Word]) -> list[Word]:
        end = self._previous[-1].end if self._previous else self.last_committed_end
        out = []
        for w in words:
            if not norm(w.text):
                continue
            start = max(w.start, end)
            end = max(w.end, start)
            out.append(Word(w.text, start, end, w.p))
        return out

    def after_committed(self, hypothesis: Sequence[Word]) -> list[Word]:
        """The part of a hypothesis that comes after the committed words (what ``insert`` uses).

        By time: words starting after the last committed end, minus the last committed words
        said again at the seam. Tiny models shift word times around the seam, though ("The"
        committed at 5.0-5.6 s, then "The(4.9-5.2) explorers(5.2-5.5)": by time, "explorers"
        looks old and would never be committed). So when the hypothesis repeats the committed
        tail *by text* and goes on with the word the previous hypothesis had next, what follows
        the repeat is taken instead.
        """
        words = [w for w in hypothesis if norm(w.text)]
        by_time = self._after_by_time(words)
        if not (self._ledger and self._previous):
            return by_time
        expected = norm(self._previous[0].text)
        if by_time and norm(by_time[0].text) == expected:
            return by_time
        tail = [norm(w.text) for w in self._ledger[-_MAX_SEAM_WORDS:]]
        seam = _seam_by_text(tail, words, self.last_committed_end)
        if seam is not None and seam < len(words) and expected == norm(words[seam].text) != tail[-1]:
            return words[seam:]
        return by_time

    def _after_by_time(self, words: list[Word]) -> list[Word]:
        last = self.last_committed_end
        new = [w for w in words if w.start > last - _SEAM_SLACK_S]
        if not (self._ledger and new) or abs(new[0].start - last) > _SEAM_WINDOW_S:
            return new
        # The first few new words may still be the last committed ones (word times jitter):
        # drop the longest such overlap, up to five words.
        tail = [norm(w.text) for w in self._ledger[-_MAX_SEAM_WORDS:]]
        n = _overlap(tail, new, 1)
        if n:
            # Tiny models also say the seam twice ("for you for you" after a committed "for
            # you"); a repeat of two or more committed words right at the seam is dropped too.
            n += _overlap(tail, new[n:], 2)
        return new[n:]


def _seam_by_text(tail: list[str], words: Sequence[Word], last: float) -> int | None:
    """Index just after the committed tail's end where ``words`` repeat it (the longest repeat,
    up to five words; a single word only when it ends within _SEAM_SLACK_S of ``last``), the
    one ending nearest to ``last`` and within _SEAM_WINDOW_S of it; None if there is none."""
    said = [norm(w.text) for w in words]
    for k in range(min(len(tail), len(said)), 0, -1):
        slack = _SEAM_WINDOW_S if k > 1 else 2 * _SEAM_SLACK_S
        ends = [
            i + k
            for i in range(len(said) - k + 1)
            if said[i : i + k] == tail[-k:] and abs(words[i + k - 1].end - last) <= slack
        ]
        if ends:
            return min(ends, key=lambda j: abs(words[j - 1].end - last))
    return None


def drop_repeats(words: Sequence[Word], shortest: int = 2) -> list[Word]:
    """The words without phrases said twice in a row (the second copy goes).

    Whisper, tiny models especially, loops at the end of a buffer: "Yes, that is right. Yes,
    that is right." for one "Yes, that is right", often with the copy's times squeezed to
    nothing. A back-to-back repeat of ``shortest`` or more words is taken for such a loop; people
    rarely say a phrase twice in a row, and the meaning survives either way. Repeated numbers are
    kept ("5 5 5 5" is a phone number), and so are single repeated words ("no, no"), unless the
    copy takes no time at all ("Great. Great." with the second at 18.94-18.94 s): a word said
    takes time, and a squeezed copy that is real is read again with its times by a later reading.
    """
    out: list[Word] = []
    for w in words:
        if (
            out
            and norm(w.text) == norm(out[-1].text)
            and not norm(w.text).isdigit()
            and w.end - w.start < 0.02
        ):
            continue  # a single word looped, its copy squeezed to nothing
        out.append(w)
        said = [norm(x.text) for x in out]
        for k in range(len(said) // 2, shortest - 1, -1):
            copy = said[-k:]
            if copy == said[-2 * k : -k] and not all(t.isdigit() for t in copy):
                del out[-k:]
                break
    return out


def _overlap(tail: list[str], new: Sequence[Word], shortest: int) -> int:
    """How many of the first ``new`` words repeat the end of ``tail`` (0 if fewer than shortest)."""
    for n in range(min(len(tail), len(new)), shortest - 1, -1):
        if tail[-n:] == [norm(w.text) for w in new[:n]]:
            return n
    return 0
