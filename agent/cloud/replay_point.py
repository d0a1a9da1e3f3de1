"""Where a new session starts reading after a reconnect: a pure function of the speech so far.

A recogniser reads a word with the speech before it as context. Ours (and the emulators built on
it) keeps the speech before a pause shorter than ``context_s`` and starts afresh after a longer
one, so a *run* of speech (utterances whose pauses are all shorter than ``context_s``) is read
the same way whenever it is sent whole from a point in the silence before it::

    speech   ==a==  ..4 s..  ==b==  .1 s.  ==c==  .0.8 s.  ==d== (last final ends in d)
                          ^ replay from here: the run b c d, from margin before b
                            (not from c or d: they were read with b before them)

The target is the utterance the last final fell in, or the first speech no final reached yet,
whichever is later; with everything final, the run still going on (the last speech ended less
than ``context_s`` ago), since the next words will be read with it. The start never reaches more
than ``max_back`` before the end of the last final: a link that drops every few seconds must let
each session catch up, even inside a long run. It is rounded down to the media grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.media import on_grid


@dataclass
class Utterance:
    """One stretch of speech as the VAD saw it; ``end`` is None while it goes on."""

    onset: float
    end: float | None = None


@dataclass(frozen=True)
class ReplayRules:
    context_s: float  # pauses shorter than this join a run
    margin_s: float  # start this long before the run's onset
    max_back_s: float  # never start more than this before the end of the last final


def replay_from(
    speech: Sequence[Utterance], uncovered: float | None, covered: float, now: float, rules: ReplayRules
) -> float:
    """Media time (on the grid) from which to send the buffered audio to a new session.

    ``speech``: utterances in order; ``uncovered``: onset of the first speech no final reached
    (None when finals cover everything); ``covered``: end of the last final; ``now``: media time.
    """
    if uncovered is None:
        going_on = [u for u in speech if u.end is None or now - u.end < rules.context_s]
        if not going_on:
            return on_grid(now - rules.margin_s)  # silence needs no replay
        target = going_on[-1].onset
    else:
        target = max([uncovered, *(u.onset for u in speech if u.onset <= covered)])
    first = run_onset(speech, target, rules.context_s)
    return on_grid(max(first - rules.margin_s, covered - rules.max_back_s))


def run_onset(speech: Sequence[Utterance], target: float, context_s: float) -> float:
    """Onset of the run the utterance starting at ``target`` belongs to (``target`` itself when
    no utterance starts there)."""
    i = max((k for k, u in enumerate(speech) if u.onset <= target + 1e-9), default=None)
    if i is None:
        return target
    while i > 0:
        before = speech[i - 1]
        if before.end is None or speech[i].onset - before.end >= context_s:
            break
        i -= 1
    return min(speech[i].onset, target)
