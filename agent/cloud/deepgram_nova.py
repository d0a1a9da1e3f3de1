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
- In silence the server still sends ``Results`` with no words, about one per second of audio:
  they tell a live session from a stalled one.
- The key goes in ``Authorization: Token …`` (the SDK does it). A bad key is an HTTP 401 at the
  handshake, which is fatal (no retry).
- ``punctuated_word`` is used when present (``punctuate=true``). Word times are seconds of the
  session's audio.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import BaseModel, Field

from agent.cloud.deepgram_socket import DeepgramSession
from agent.cloud.provider import CloudAlive, CloudClosed, CloudTurn, CloudWords
from agent.events import Word


class DeepgramNovaSettings(BaseModel):
    """``/v1/listen`` parameters."""

    model: str = Field("nova-3", description="streaming model")
    endpointing_ms: int = Field(300, description="silence that makes Deepgram set speech_final (ms)")
    utterance_end_ms: int = Field(1000, description="gap after the last word that sends UtteranceEnd (ms)")
    keepalive_s: float = Field(5.0, description="KeepAlive interval (s); the server closes after ~10 s")


class DeepgramNovaProvider(DeepgramSession):
    """One Deepgram ``/v1/listen`` session; events go to ``events``."""

    name = "deepgram-nova"
    label = "Deepgram"
    path = "/v1/listen"

    def __init__(
        self, settings: DeepgramNovaSettings, url: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(url, key)
        self._settings = settings
        self._turn = 0
        self._ended = False  # the native end of the current turn was passed on

    def open(self, client: Any) -> Any:
        s = self._settings
        return client.listen.v1.connect(
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

    def background(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._keepalive())]

    async def finalize(self) -> None:
        if self._socket is not None:
            await self._socket.send_finalize()

    async def _keepalive(self) -> None:
        while self._socket is not None:
            await asyncio.sleep(self._settings.keepalive_s)
            with contextlib.suppress(Exception):
                await self._socket.send_keep_alive()

    async def take(self, message: Any) -> None:
        kind = getattr(message, "type", None)
        if kind == "Results":
            alternative = message.channel.alternatives[0]
            words = tuple(
                Word(w.punctuated_word or w.word, float(w.start), float(w.end), float(w.confidence))
                for w in alternative.words
            )
            if words:
                self._ended = False  # words again: a new stretch of speech
            if not words:
                await self.events.put(CloudAlive())  # silence: results with no words, ~1 s apart
            elif message.is_final:
                await self.events.put(CloudWords(words, ()))
            else:
                await self.events.put(CloudWords((), words))
            if message.speech_final:
                await self._end()
        elif kind == "UtteranceEnd":
            await self._end()
        elif kind == "SpeechStarted":
            self._ended = False
            await self.events.put(CloudTurn("start", self._turn))
        elif kind == "Error":
            await self.events.put(CloudClosed(f"Deepgram: {getattr(message, 'description', 'error')}"))

    async def _end(self) -> None:
        if self._ended:
            return  # UtteranceEnd after a speech_final: the same end
        self._ended = True
        await self.events.put(CloudTurn("end", self._turn))
        self._turn += 1
