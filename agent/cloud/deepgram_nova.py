"""Deepgram Nova-3 (``/v1/listen``) through the official SDK (``deepgram-sdk``).

Quirks handled here:

- Interim ``Results`` (``is_final: false``) are partials; ``is_final: true`` segments are finals.
  A turn may span several of them: they are passed on one by one and the turn controller joins
  them.
- ``speech_final: true`` is Deepgram's endpoint; with noise or fast digits it may never come,
  so ``UtteranceEnd`` (sent after ``utterance_end_ms`` without words) is the fallback. Both are
  the native "end", at most once per turn.
- ``SpeechStarted`` (``vad_events=true``) is the native "start".
- ``Finalize`` (sent at our VAD stop) makes the server flush what it heard as finals
  (``from_finalize: true``).
- The server closes a session after about 10 s without audio: ``KeepAlive`` every 5 s.
- The key goes in ``Authorization: Token …`` (the SDK does it). A bad key is an HTTP 401 at the
  handshake, which is fatal (no retry).
- ``punctuated_word`` is used when present (``punctuate=true``). Word times are seconds of the
  session's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.cloud.provider import CloudClosed, CloudEvent, CloudTurn, CloudWords, ProviderError
from agent.events import Word

DEFAULT_URL = "wss://api.deepgram.com"


class DeepgramNovaSettings(BaseModel):
    """``/v1/listen`` parameters."""

    model: str = Field("nova-3", description="streaming model")
    endpointing_ms: int = Field(300, description="silence that makes Deepgram set speech_final (ms)")
    utterance_end_ms: int = Field(1000, description="gap after the last word that sends UtteranceEnd (ms)")
    keepalive_s: float = Field(5.0, description="KeepAlive interval (s); the server closes after ~10 s")


def api_key() -> str | None:
    return os.environ.get("DEEPGRAM_API_KEY")


class DeepgramNovaProvider:
    """One Deepgram ``/v1/listen`` session; events go to ``events``."""

    name = "deepgram-nova"
    clock: Literal["session", "media"] = "session"

    def __init__(
        self, settings: DeepgramNovaSettings, url: str | None = None, key: str | None = None
    ) -> None:
        self._settings = settings
        self._url = (url or DEFAULT_URL).rstrip("/").removesuffix("/v1/listen")
        self._key = key if key is not None else api_key()
        self.events: asyncio.Queue[CloudEvent] = asyncio.Queue()
        self._context: Any = None
        self._socket: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._turn = 0
        self._ended = False  # the native end of the current turn was passed on

    async def connect(self) -> None:
        from deepgram import AsyncDeepgramClient
        from deepgram.environment import DeepgramClientEnvironment

        if not self._key and self._url == DEFAULT_URL:
            raise ProviderError("Deepgram needs DEEPGRAM_API_KEY (or --stt-url for an emulator)", True)
        http = self._url.replace("wss://", "https://").replace("ws://", "http://")
        env = DeepgramClientEnvironment(base=http, production=self._url, agent=self._url, agent_rest=http)
        client = AsyncDeepgramClient(api_key=self._key or "none", environment=env)
        s = self._settings
        self._context = client.listen.v1.connect(
            model=s.model,
            encoding="linear16",
            sample_rate="16000",
            channels="1",
            interim_results="true",
            punctuate="true",
            vad_events="true",
            endpointing=str(s.endpointing_ms),
            utterance_end_ms=str(s.utterance_end_ms),
        )
        try:
            self._socket = await self._context.__aenter__()
        except Exception as e:  # websockets' handshake errors (401 on a bad key)
            fatal = "401" in str(e) or "403" in str(e)
            raise ProviderError(
                f"Deepgram connect to {self._url} failed: {type(e).__name__}", fatal
            ) from None
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._keepalive())]

    async def send(self, pcm: bytes) -> None:
        if self._socket is not None:
            await self._socket.send_media(pcm)

    def advance(self, t: float) -> None:
        return None

    async def finalize(self) -> None:
        if self._socket is not None:
            await self._socket.send_finalize()

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.send_close_stream()
            await asyncio.sleep(0.2)  # let the last Results arrive
        for task in self._tasks:
            task.cancel()
        if self._context is not None:
            context, self._context = self._context, None
            with contextlib.suppress(Exception):
                await context.__aexit__(None, None, None)

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                await self._take(message)
        except Exception as e:  # the socket broke
            await self.events.put(CloudClosed(f"Deepgram: connection lost ({type(e).__name__})"))
            return
        await self.events.put(CloudClosed("Deepgram: session closed"))

    async def _keepalive(self) -> None:
        while self._socket is not None:
            await asyncio.sleep(self._settings.keepalive_s)
            with contextlib.suppress(Exception):
                await self._socket.send_keep_alive()

    async def _take(self, message: Any) -> None:
        kind = getattr(message, "type", None)
        if kind == "Results":
            alternative = message.channel.alternatives[0]
            words = tuple(
                Word(w.punctuated_word or w.word, float(w.start), float(w.end), float(w.confidence))
                for w in alternative.words
            )
            if words:
                self._ended = False  # words again: a new stretch of speech
            if message.is_final:
                await self.events.put(CloudWords(words, ()))
            elif words:
                await self.events.put(CloudWords((), words))
            if message.speech_final:
                await self._end(None)
        elif kind == "UtteranceEnd":
            await self._end(None)
        elif kind == "SpeechStarted":
            self._ended = False
            await self.events.put(CloudTurn("start", self._turn))
        elif kind == "Error":
            await self.events.put(CloudClosed(f"Deepgram: {getattr(message, 'description', 'error')}"))

    async def _end(self, confidence: float | None) -> None:
        if self._ended:
            return  # UtteranceEnd after a speech_final: the same end
        self._ended = True
        await self.events.put(CloudTurn("end", self._turn, confidence))
        self._turn += 1
