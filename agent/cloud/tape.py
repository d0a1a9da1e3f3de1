"""Tapes: a cloud recogniser's events recorded with their media times, replayed offline.

``agent replay --stt assemblyai --record-tape FILE`` writes one JSON line per provider event as
the pipeline took it: the media time it arrived at and the event, its word times already in
media time::

    {"t": 3.54, "words": {"final": [["what", 0.61, 0.83, 0.98], ...], "partial": [...]}}
    {"t": 4.82, "turn": {"kind": "end", "index": 0, "confidence": 0.91}}
    {"t": 5.10, "closed": {"reason": "...", "fatal": false}}

``--stt tape:FILE`` plays it back through the same processor with the same audio: each event is
released at its media time, so a paid run can be compared offline (and in CI) as often as
wanted, with the same decisions every time. Connection drops are kept for the record but not
replayed: what the provider said after reconnecting is on the tape already.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal, TextIO

from agent.cloud.provider import CloudAlive, CloudClosed, CloudEvent, CloudTurn, CloudWords
from agent.events import Word


class TapeError(ValueError):
    """A tape line that cannot be read: file, line and what is wrong."""


def _words(words: tuple[Word, ...]) -> list[list[Any]]:
    return [[w.text, round(w.start, 4), round(w.end, 4), round(w.p, 4)] for w in words]


def encode(t: float, event: CloudEvent) -> str | None:
    """One tape line for an event (None for heartbeats: they carry nothing)."""
    if isinstance(event, CloudWords):
        body: dict[str, Any] = {"words": {"final": _words(event.final), "partial": _words(event.partial)}}
    elif isinstance(event, CloudTurn):
        body = {"turn": {"kind": event.kind, "index": event.index, "confidence": event.confidence}}
    elif isinstance(event, CloudClosed):
        body = {"closed": {"reason": event.reason, "fatal": event.fatal, "clean": event.clean}}
    else:
        return None
    return json.dumps({"t": round(t, 4), **body})


def _read_words(rows: list[list[Any]]) -> tuple[Word, ...]:
    return tuple(Word(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in rows)


def decode(line: str) -> tuple[float, CloudEvent]:
    """The media time and event of one tape line (KeyError / ValueError / TypeError if bad)."""
    data = json.loads(line)
    t = float(data["t"])
    if "words" in data:
        final = tuple(Word(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in data["words"]["final"])
        partial = tuple(
            Word(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in data["words"]["partial"]
        )
        return t, CloudWords(final, partial)
    if "turn" in data:
        turn = data["turn"]
        return t, CloudTurn(turn["kind"], int(turn["index"]), turn.get("confidence"))
    closed = data["closed"]
    return t, CloudClosed(str(closed["reason"]), bool(closed["fatal"]), bool(closed.get("clean", False)))


class TapeWriter:
    """Appends events to a tape file as they are taken."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = path.open("w", encoding="utf-8")

    def write(self, t: float, event: CloudEvent) -> None:
        line = encode(t, event)
        if line is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def load_tape(path: Path) -> list[tuple[float, CloudEvent]]:
    """Every event of a tape, in order (TapeError naming the line when one is bad)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(decode(line))
        except (KeyError, ValueError, TypeError, IndexError) as e:
            raise TapeError(f"{path}:{n}: not a tape line ({type(e).__name__}: {e})") from None
    return out


class TapeProvider:
    """A recorded session: events come out when media time reaches them; audio is ignored."""

    name = "tape"
    clock: Literal["session", "media"] = "media"
    finals_at_turn_end = False  # recovered finals are on the tape as finals

    def __init__(self, records: list[tuple[float, CloudEvent]]) -> None:
        self._records = [(t, e) for t, e in records if not isinstance(e, CloudClosed | CloudAlive)]
        self.events: asyncio.Queue[CloudEvent] = asyncio.Queue()

    async def connect(self) -> None:
        return None

    async def send(self, pcm: bytes) -> None:
        return None

    async def finalize(self) -> None:
        return None

    async def close(self) -> None:
        """A tape has nothing more to say: it ends cleanly at once."""
        self.events.put_nowait(CloudClosed("tape ended", clean=True))

    def advance(self, t: float) -> None:
        """Release the events recorded at or before media time ``t``."""
        while self._records and self._records[0][0] <= t + 1e-9:
            self.events.put_nowait(self._records.pop(0)[1])
