"""AssemblyAI Universal-Streaming v3 through the official SDK (``assemblyai.streaming.v3``).

Quirks handled here:

- A ``Turn`` message carries the whole turn so far; its final words are a prefix
  (``word_is_final``), ``transcript`` holds only them. New finals are the final words past the
  ones already passed on for that ``turn_order``.
- ``end_of_turn: true`` makes every word of the turn final. Older servers (and
  ``format_turns=true``) send a second ``end_of_turn`` message for the same ``turn_order`` with
  formatted text: it is ignored, since finals never change (we ask for unformatted turns).
- ``min_turn_silence`` replaced ``min_end_of_turn_silence_when_confident``; the SDK sends the
  new name.
- Word times are milliseconds of the session's audio.
- Nothing is sent during silence, so ``session_heartbeat`` is asked for: a missing heartbeat,
  not a quiet user, is what reveals a stalled connection.
- The key goes in the ``Authorization`` header (the SDK does it); a rejected key closes the
  socket with code 4001, which is fatal (no retry).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.cloud.provider import (
    CloudAlive,
    CloudClosed,
    CloudEvent,
    CloudTurn,
    CloudWords,
    ProviderError,
)
from agent.events import Word

DEFAULT_HOST = "streaming.assemblyai.com"
_FATAL_CODES = {4000, 4001, 4002, 4003, 4101}


class AssemblyAISettings(BaseModel):
    """AssemblyAI session parameters (None: the service's default)."""

    speech_model: str = Field("universal-streaming-english", description="streaming model")
    end_of_turn_confidence_threshold: float | None = Field(None, description="0-1 (service default 0.4)")
    min_turn_silence_ms: int | None = Field(None, description="silence before a confident end (ms)")
    max_turn_silence_ms: int | None = Field(None, description="silence that always ends a turn (ms)")


def api_key() -> str | None:
    return os.environ.get("ASSEMBLYAI_API_KEY")


class AssemblyAIProvider:
    """One AssemblyAI session; events go to ``events``."""

    name = "assemblyai"
    clock: Literal["session", "media"] = "session"
    finals_at_turn_end = False  # each word is final when emitted
    finish_s = 10.0
    """How long :meth:`close` waits for the server's last ``Turn`` and ``Termination`` (s)."""

    def __init__(self, settings: AssemblyAISettings, url: str | None = None, key: str | None = None) -> None:
        self._settings = settings
        self._host = url.rstrip("/").removesuffix("/v3/ws") if url else DEFAULT_HOST
        self._key = key if key is not None else api_key()
        self.events: asyncio.Queue[CloudEvent] = asyncio.Queue()
        self._client: Any = None
        self._passed: dict[int, int] = {}  # turn_order -> final words passed on
        self._ended: set[int] = set()

    async def connect(self) -> None:
        from assemblyai.streaming.v3 import (
            AsyncRealTimeTranscriber,
            RealTimeEvents,
            RealTimeParameters,
            RealTimeTranscriberOptions,
        )

        if not self._key and self._host == DEFAULT_HOST:
            raise ProviderError("AssemblyAI needs ASSEMBLYAI_API_KEY (or --stt-url for an emulator)", True)
        s = self._settings
        options = RealTimeTranscriberOptions(
            api_host=self._host,
            api_key=self._key or "none",
            terminate_timeout=self.finish_s,  # the caller bounds the whole end of a call
        )
        self._client = AsyncRealTimeTranscriber(options)
        self._client.on(RealTimeEvents.Turn, self._on_turn)
        self._client.on(RealTimeEvents.Error, self._on_error)
        self._client.on(RealTimeEvents.Termination, self._on_termination)
        self._client.on(RealTimeEvents.Heartbeat, self._on_heartbeat)
        params = RealTimeParameters(
            sample_rate=16000,
            encoding="pcm_s16le",
            format_turns=False,
            speech_model=s.speech_model,
            end_of_turn_confidence_threshold=s.end_of_turn_confidence_threshold,
            min_turn_silence=s.min_turn_silence_ms,
            max_turn_silence=s.max_turn_silence_ms,
            session_heartbeat=True,  # silence sends nothing else: this tells it from a stall
        )
        try:
            await self._client.connect(params)
        except Exception as e:  # the SDK raises its own and websockets' errors
            raise ProviderError(f"AssemblyAI connect to {self._host} failed: {type(e).__name__}") from None

    def advance(self, t: float) -> None:
        return None  # a live session runs on its own

    async def send(self, pcm: bytes) -> None:
        if self._client is not None:
            await self._client.stream(pcm)

    async def finalize(self) -> None:
        if self._client is not None:
            await self._client.force_endpoint()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.disconnect(terminate=True)

    async def _on_turn(self, _client: Any, turn: Any) -> None:
        order = int(turn.turn_order)
        if order in self._ended:
            return  # the formatted repeat of an ended turn
        words = [Word(w.text, w.start / 1000, w.end / 1000, float(w.confidence)) for w in turn.words]
        is_final = [bool(w.word_is_final) or bool(turn.end_of_turn) for w in turn.words]
        n_final = sum(is_final)
        passed = self._passed.get(order, 0)
        new = tuple(words[passed:n_final])
        self._passed[order] = max(passed, n_final)
        await self.events.put(CloudWords(new, tuple(words[n_final:])))
        if turn.end_of_turn:
            self._ended.add(order)
            await self.events.put(CloudTurn("end", order, float(turn.end_of_turn_confidence)))

    async def _on_heartbeat(self, _client: Any, _event: Any) -> None:
        await self.events.put(CloudAlive())

    async def _on_error(self, _client: Any, error: Any) -> None:
        code = getattr(error, "code", None)
        if code == 4001:  # the provider's close code for a rejected key
            message = f"AssemblyAI rejected the API key ({code} {error}): check ASSEMBLYAI_API_KEY"
        else:
            message = f"AssemblyAI: {error}"
        await self.events.put(CloudClosed(message, fatal=code in _FATAL_CODES))

    async def _on_termination(self, _client: Any, _event: Any) -> None:
        await self.events.put(CloudClosed("AssemblyAI session terminated", clean=True))
