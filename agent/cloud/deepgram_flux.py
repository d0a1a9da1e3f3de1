"""Deepgram Flux (``/v2/listen``, ``flux-general-en``) through the official SDK.

Quirks handled here:

- Flux transcripts change within a turn: ``Update`` and ``EagerEndOfTurn`` text is shown as a
  partial only. The words of ``EndOfTurn`` are the finals: they are the only ones that never
  change.
- ``TurnInfo`` events map to native turn events: ``StartOfTurn`` → start, ``EagerEndOfTurn`` →
  eager end, ``TurnResumed`` → resumed, ``EndOfTurn`` → end. Each carries ``turn_index``, so a
  late ``EndOfTurn`` is matched to its own turn (the native detector ignores an earlier turn's).
- When our own detector decides the turns, the VAD stop sends ``ForceEndTurn`` so Flux makes the
  finals now (``trigger: manual``); with ``--detector native`` Flux decides and nothing is forced.
- ``eot_threshold``, ``eager_eot_threshold`` and ``eot_timeout_ms`` are connection settings;
  ``Configure`` can change them mid-stream (:meth:`DeepgramFluxProvider.configure`).
- There is no KeepAlive message in v2: the websocket's own pings keep the connection alive (the
  websockets library sends them), and heartbeats are not needed because Flux sends ``Update``
  messages as audio comes in, speech or not.
- Word times may be missing; the turn's ``audio_window`` is then spread over the words.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.cloud.deepgram_nova import DEFAULT_URL, api_key
from agent.cloud.provider import CloudAlive, CloudClosed, CloudEvent, CloudTurn, CloudWords, ProviderError
from agent.events import Word
from agent.turn.native import NativeKind

_EVENTS: dict[str, NativeKind] = {
    "StartOfTurn": "start",
    "EagerEndOfTurn": "eager_end",
    "TurnResumed": "resumed",
    "EndOfTurn": "end",
}


class DeepgramFluxSettings(BaseModel):
    """``/v2/listen`` parameters (None: the service's default)."""

    model: str = Field("flux-general-en", description="Flux model")
    eot_threshold: float | None = Field(None, description="confidence that ends a turn (0.5-0.9)")
    eager_eot_threshold: float | None = Field(None, description="confidence for EagerEndOfTurn (off if None)")
    eot_timeout_ms: int | None = Field(
        None, description="silence that ends a turn whatever the model says (ms)"
    )


class DeepgramFluxProvider:
    """One Flux session; events go to ``events``."""

    name = "deepgram-flux"
    clock: Literal["session", "media"] = "session"

    def __init__(
        self, settings: DeepgramFluxSettings, url: str | None = None, key: str | None = None
    ) -> None:
        self._settings = settings
        self._url = (url or DEFAULT_URL).rstrip("/").removesuffix("/v2/listen")
        self._key = key if key is not None else api_key()
        self.events: asyncio.Queue[CloudEvent] = asyncio.Queue()
        self._context: Any = None
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ended: set[int] = set()

    async def connect(self) -> None:
        from deepgram import AsyncDeepgramClient
        from deepgram.environment import DeepgramClientEnvironment

        if not self._key and self._url == DEFAULT_URL:
            raise ProviderError("Deepgram needs DEEPGRAM_API_KEY (or --stt-url for an emulator)", True)
        http = self._url.replace("wss://", "https://").replace("ws://", "http://")
        env = DeepgramClientEnvironment(base=http, production=self._url, agent=self._url, agent_rest=http)
        client = AsyncDeepgramClient(api_key=self._key or "none", environment=env)
        s = self._settings
        options = {
            "eot_threshold": s.eot_threshold,
            "eager_eot_threshold": s.eager_eot_threshold,
            "eot_timeout_ms": s.eot_timeout_ms,
        }
        self._context = client.listen.v2.connect(
            model=s.model,
            encoding="linear16",
            sample_rate="16000",
            **{k: str(v) for k, v in options.items() if v is not None},
        )
        try:
            self._socket = await self._context.__aenter__()
        except Exception as e:  # websockets' handshake errors (401 on a bad key)
            fatal = "401" in str(e) or "403" in str(e)
            message = f"Deepgram Flux connect to {self._url} failed: {type(e).__name__}"
            raise ProviderError(message, fatal) from None
        self._reader = asyncio.create_task(self._read())

    def advance(self, t: float) -> None:
        return None

    async def send(self, pcm: bytes) -> None:
        if self._socket is not None:
            await self._socket.send_media(pcm)

    async def finalize(self) -> None:
        if self._socket is not None:
            await self._socket.send_force_end_turn()

    async def configure(self, **thresholds: float) -> None:
        """Change ``eot_threshold`` / ``eager_eot_threshold`` / ``eot_timeout_ms`` mid-stream."""
        if self._socket is not None:
            await self._socket.send_configure({"type": "Configure", "thresholds": thresholds})

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.send_close_stream()
            await asyncio.sleep(0.2)  # let the last EndOfTurn arrive
        if self._reader is not None:
            self._reader.cancel()
        if self._context is not None:
            context, self._context = self._context, None
            with contextlib.suppress(Exception):
                await context.__aexit__(None, None, None)

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                await self._take(message)
        except Exception as e:  # the socket broke
            await self.events.put(CloudClosed(f"Deepgram Flux: connection lost ({type(e).__name__})"))
            return
        await self.events.put(CloudClosed("Deepgram Flux: session closed"))

    async def _take(self, message: Any) -> None:
        kind = getattr(message, "type", None)
        if kind == "Error":
            await self.events.put(CloudClosed(f"Deepgram Flux: {getattr(message, 'description', 'error')}"))
            return
        if kind != "TurnInfo":
            await self.events.put(CloudAlive())
            return
        index, event = int(message.turn_index), str(message.event)
        words = _words(message)
        if event == "EndOfTurn":
            if index in self._ended:
                return  # a repeat
            self._ended.add(index)
            await self.events.put(CloudWords(words, ()))
        elif words:
            await self.events.put(CloudWords((), words))
        else:
            await self.events.put(CloudAlive())
        if event in _EVENTS:
            confidence = float(message.end_of_turn_confidence)
            await self.events.put(CloudTurn(_EVENTS[event], index, confidence))


def _words(message: Any) -> tuple[Word, ...]:
    items = list(message.words or [])
    if not items:
        return ()
    start, end = float(message.audio_window_start), float(message.audio_window_end)
    step = (end - start) / len(items)
    out = []
    for i, w in enumerate(items):
        a = float(w.start) if w.start is not None else start + i * step
        b = float(w.end) if w.end is not None else start + (i + 1) * step
        out.append(Word(str(w.word), a, b, float(w.confidence)))
    return tuple(out)
