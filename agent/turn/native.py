"""The ``native`` detector: the cloud provider's own end-of-turn, through the same interface.

Cloud adapters turn each provider's messages (AssemblyAI ``end_of_turn``, Deepgram Flux
``EndOfTurn``, ...) into :class:`NativeTurn` facts stamped with the media time they arrived and
feed them here. The detector answers "done" in a pause once the provider said the turn ended at
or after the speech that pause follows (a provider's end that arrived before the user spoke again
belongs to the earlier pause)::

    user speech  =====|.......... pause ..........
    provider            ^EndOfTurn(t)      -> done at the first check after t
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
        self._ends: list[NativeTurn] = []
        self._fired = False
        self._current = -1  # the provider's current turn number, once it said one started

    def provider(self, event: NativeTurn) -> None:
        """A turn event from the provider. Ends decide; a start sets the turn number, so that a
        late end of an earlier turn (Flux matches them by ``turn_index``) is not taken for this
        one's."""
        if event.kind == "start":
            self._current = max(self._current, event.index)
        elif event.kind == "end" and event.index >= self._current:
            self._ends.append(event)
            self._ends = self._ends[-8:]

    def reset(self) -> None:
        self._fired = False

    def check(self, pause: PauseContext) -> Verdict | None:
        if self._fired:
            return None
        end = next(
            (e for e in self._ends if e.t >= pause.speech_end - self._slack and e.t <= pause.now + 1e-9),
            None,
        )
        if end is None:
            return None
        self._fired = True
        return Verdict(self.name, pause.now, True, end.confidence)
