"""What every cloud recogniser adapter gives the pipeline: provider-neutral events.

An adapter wraps one provider's official client and puts, on its ``events`` queue:

- :class:`CloudWords`: words that became final (never changed again) and the current partial,
  in seconds of the *session's* audio (the connection's own clock, restarting at 0 on every
  reconnect; the STT processor maps it to media time);
- :class:`CloudTurn`: the provider's own turn events (start, eager end, resumed, end);
- :class:`CloudAlive`: a heartbeat, so that silence is not mistaken for a stalled connection;
- :class:`CloudClosed`: the connection ended; ``fatal`` when retrying cannot help (a rejected
  key), ``clean`` when the provider ended the session itself, as a close asks it to (its
  goodbye, after its last results), rather than the connection being lost; with a one-line
  reason that never contains the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol

from agent.events import Word
from agent.turn.native import NativeKind


@dataclass(frozen=True)
class CloudWords:
    final: tuple[Word, ...]
    partial: tuple[Word, ...]


@dataclass(frozen=True)
class CloudTurn:
    kind: NativeKind
    index: int
    confidence: float | None = None


@dataclass(frozen=True)
class CloudAlive:
    """The provider is still there (a heartbeat), with nothing new to say."""


@dataclass(frozen=True)
class CloudClosed:
    reason: str
    fatal: bool = False
    clean: bool = False


CloudEvent = CloudWords | CloudTurn | CloudAlive | CloudClosed


class ProviderError(RuntimeError):
    """Connecting failed (one line, never the key); ``fatal`` when retrying cannot help."""

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class Provider(Protocol):
    """One streaming session with a provider; a new object per connection.

    ``clock`` says what word times are in: ``"session"`` (seconds of this connection's audio,
    the providers) or ``"media"`` (a tape, recorded after mapping). ``finals_at_turn_end``: words
    become final only when the turn ends (Flux), so a turn longer than a session's life needs
    :mod:`agent.cloud.recovery`.
    """

    name: str
    clock: Literal["session", "media"]
    finals_at_turn_end: bool
    events: asyncio.Queue[CloudEvent]

    def advance(self, t: float) -> None:
        """Media time moved on to ``t`` (a live provider ignores it; a tape releases events)."""

    async def connect(self) -> None:
        """Open the session (raises :class:`ProviderError`)."""

    async def send(self, pcm: bytes) -> None:
        """16 kHz mono PCM s16le audio."""

    async def finalize(self) -> None:
        """Ask for the words heard so far to be made final now (the user stopped speaking)."""

    async def close(self) -> None:
        """End the session politely (the provider's terminate message), then disconnect."""
