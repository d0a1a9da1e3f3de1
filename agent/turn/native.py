"""The ``native`` detector: the cloud provider's own end-of-turn, through the same interface.

Cloud adapters turn each provider's messages (AssemblyAI ``end_of_turn``, Deepgram Flux
``EndOfTurn``, ...) into :class:`NativeTurn` facts stamped with the media time they arrived and
feed them here. The detector answers "done" in a pause once the provider said the turn ended at
or after the speech that pause follows (a provider's end that arrived before the user spoke again
belongs to the earlier pause)::

    user speech  =====|.......... pause ..........
    provider            ^EagerEndOfTurn    -> "not yet", with its confidence (a likely end)
    provider                  ^EndOfTurn(t) -> done at the first check after t
    (an EndOfTurn before speech_end is stale: the user went on after it)

Pure and clock-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.turn.detectors import PauseContext, Verdict

NativeKind = Literal["start", "eager_end", "resumed", "end"]


@dataclass(frozen=True)
class NativeTurn:
    """A provider's turn event at media time ``t`` (``index``: its turn number)."""

    kind: NativeKind
    t: float
    index: int = 0
    confidence: float | None = None


class NativeDetector:
    """Done when the provider's end-of-turn for this pause has arrived."""

    def __init__(self, name: str = "native", slack_s: float = 0.05) -> None:
        self.name = name
        self._slack = slack_s
        self._said: list[NativeTurn] = []  # recent ends and eager ends
        self._fired = False
        self._eager_told = False
        self._current = -1  # the provider's current turn number, once it said one started

    def provider(self, event: NativeTurn) -> None:
        """A turn event from the provider. Ends decide; a start sets the turn number, so that a
        late end of an earlier turn (Flux matches them by ``turn_index``) is not taken for this
        one's."""
        if event.kind == "start":
            self._current = max(self._current, event.index)
        elif event.kind in ("end", "eager_end") and event.index >= self._current:
            self._said.append(event)
            self._said = self._said[-8:]

    def reset(self) -> None:
        self._fired = False
        self._eager_told = False

    def check(self, pause: PauseContext) -> Verdict | None:
        """Done at the provider's end for this pause. Before that, its eager end (Flux's
        ``EagerEndOfTurn``) is a "not yet" with its confidence, which the turn controller takes
        as a likely end (a speculative reply), if it scores at least ``turn.eager_score``."""
        if self._fired:
            return None
        here = [e for e in self._said if pause.speech_end - self._slack <= e.t <= pause.now + 1e-9]
        end = next((e for e in here if e.kind == "end"), None)
        if end is not None:
            self._fired = True
            return Verdict(self.name, pause.now, True, end.confidence)
        eager = next((e for e in here if e.kind == "eager_end"), None)
        if eager is not None and not self._eager_told:
            self._eager_told = True
            return Verdict(self.name, pause.now, False, eager.confidence)
        return None
