"""Immutable evidence types and the timeline every stage writes its events to.

Times are media seconds (samples fed in / sample rate). Where an event also has ``t_live``, that
is when the event would have happened in a live call on this machine: the media time plus the
real compute time of the stages it waited on (see :mod:`agent.latency`). Decisions never read
``t_live``; latency figures do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Word:
    """One recognised word with its start and end in media seconds."""

    text: str
    start: float
    end: float
    p: float = 1.0
    """The recogniser's confidence in the word (Whisper's word probability; 1.0 when unknown)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"w": self.text, "start": round(self.start, 3), "end": round(self.end, 3)}
        if self.p < 1.0:
            out["p"] = round(self.p, 3)
        return out


@dataclass(frozen=True)
class Final:
    """An immutable final transcript: words that will never change.

    ``audio_end`` is the media time up to which the recogniser's finals are complete: speech
    before it will produce no further final. A final may have no words (noise, silence): it still
    tells the turn controller that nothing is pending up to ``audio_end``.
    """

    words: tuple[Word, ...]
    audio_end: float

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words).strip()


@dataclass
class Timeline:
    """Append-only log of everything that happened in one run, in media time.

    Each event is a dict with ``t`` (media seconds), ``type`` and type-specific fields. Events
    are kept in the order they were added; :meth:`sorted_events` orders them by time for output.
    """

    events: list[dict[str, Any]] = field(default_factory=list)

    def add(self, type: str, t: float, t_live: float | None = None, **fields: Any) -> None:
        """Record an event at media time ``t`` (and its live-call time, when it has one)."""
        event: dict[str, Any] = {"t": round(t, 4), "type": type}
        if t_live is not None:
            event["t_live"] = round(max(t, t_live), 4)
        event.update(fields)
        self.events.append(event)

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        """Events of the given types, in time order."""
        return [e for e in self.sorted_events() if e["type"] in types]

    def sorted_events(self) -> list[dict[str, Any]]:
        """All events ordered by media time (stable: same-time events keep their order)."""
        return sorted(self.events, key=lambda e: e["t"])

    def to_json(self) -> dict[str, Any]:
        return {"events": self.sorted_events()}
