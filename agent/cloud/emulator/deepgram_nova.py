"""Deepgram ``/v1/listen`` (Nova-3) on loopback, answered by our local recogniser and turn logic.

Protocol (``wss://api.deepgram.com/v1/listen``, served here as ``ws://HOST:PORT/v1/listen``)::

    client                                       emulator
    connect ?model=nova-3&encoding=linear16  ──► (Authorization: Token KEY; a wrong key is
            &sample_rate=16000&interim_results       refused at the handshake with HTTP 401)
            &utterance_end_ms&vad_events ...
    binary PCM s16le                         ──►
                                             ◄── SpeechStarted {timestamp}           (vad_events)
                                             ◄── Results {is_final: false, ...}      (interim_results)
                                             ◄── Results {is_final: true, ...}       (a turn may
                                                                                       span several)
                                             ◄── Results {is_final: true, speech_final: true}
                                             ◄── UtteranceEnd {last_word_end}        (utterance_end_ms)
                                             ◄── Results with no words, after each
                                                 second of audio with nothing else to say
    {"type": "Finalize"}                     ──► Results {from_finalize: true, is_final: true}
    {"type": "KeepAlive"}                    ──► (nothing)
    {"type": "CloseStream"}                  ──► last Results, Metadata, close 1000

Times are seconds of session audio. Each message is checked against the SDK's own models.
``endpointing`` (ms of silence) is the hybrid's first check, as Deepgram's silence endpointing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from deepgram.listen.v1.types import (
    ListenV1Error,
    ListenV1Metadata,
    ListenV1Results,
    ListenV1SpeechStarted,
    ListenV1UtteranceEnd,
)
from pydantic import TypeAdapter
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from agent.cloud.emulator.connection import Connection, EmulatedAudio, Session, query_number, sdk_checker
from agent.cloud.emulator.faults import Faults
from agent.cloud.engine import EndOfTurn, Event, LocalTurnEngine, SpeechStarted, Words
from agent.events import Word
from agent.memory import OpenCount
from agent.models import Models
from agent.settings import Settings

_MODELS: dict[str, Any] = {
    "Results": TypeAdapter(ListenV1Results),
    "SpeechStarted": TypeAdapter(ListenV1SpeechStarted),
    "UtteranceEnd": TypeAdapter(ListenV1UtteranceEnd),
    "Metadata": TypeAdapter(ListenV1Metadata),
    "Error": TypeAdapter(ListenV1Error),
}


QUIET_RESULTS_S = 1.0
"""With nothing else to say, Deepgram still sends a ``Results`` with no words about once per second
of audio (seen in logs quoted in pipecat PR #1261: empty interim results 1.0 s long)."""

checked = sdk_checker(_MODELS)
"""The message as JSON, after the SDK's own model accepted it (ValueError otherwise)."""


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "false").lower() == "true"


class DeepgramNovaSession(EmulatedAudio):
    """One ``/v1/listen`` connection."""

    @staticmethod
    def check_query(query: dict[str, str]) -> None:
        """ValueError for a query Deepgram would refuse at the handshake (HTTP 400)."""
        query_number(query, "sample_rate", 16000, 8000, 48000, integer=True)

    def __init__(self, models: Models, settings: Settings, query: dict[str, str]) -> None:
        self.check_query(query)
        self.sample_rate = int(query.get("sample_rate", "16000") or 16000)
        self.interim = _flag(query, "interim_results")
        self.vad_events = _flag(query, "vad_events")
        self.utterance_end = query.get("utterance_end_ms") is not None
        self.model = query.get("model", "nova-3")
        own = settings.model_copy(deep=True)
        if query.get("endpointing", "").isdigit():
            own.hybrid.delay_s = int(query["endpointing"]) / 1000
        super().__init__(LocalTurnEngine(models, own), self.sample_rate)
        self.request_id = str(uuid.uuid4())
        self._sent = 0  # finals of the current turn already sent
        self._last_end = 0.0
        self._said_at = 0.0  # session audio (s) at the last message

    def greet(self) -> list[dict[str, Any]]:
        return []  # Deepgram says nothing until it has something

    def audio(self, pcm: bytes) -> list[dict[str, Any]]:
        out = [m for event in self.feed(pcm) for m in self.messages(event)]
        if not out and self.audio_s - self._said_at >= QUIET_RESULTS_S:
            out = [self._results([], is_final=not self.interim, since=self._said_at)]
        if out:
            self._said_at = self.audio_s
        return out

    def messages(self, event: Event, from_finalize: bool = False) -> list[dict[str, Any]]:
        if isinstance(event, SpeechStarted):
            started = {"type": "SpeechStarted", "channel": [0, 1], "timestamp": round(event.onset, 3)}
            return [started] if self.vad_events else []
        if isinstance(event, Words):
            out = []
            new = list(event.final[self._sent :])
            if new:
                self._sent = len(event.final)
                out.append(self._results(new, is_final=True))
            if self.interim and event.partial:
                out.append(self._results(list(event.partial), is_final=False))
            return out
        if not isinstance(event, EndOfTurn):
            return []  # Nova has no eager end
        rest = list(event.words[self._sent :])
        self._sent = 0
        out = [self._results(rest, is_final=True, speech_final=True, from_finalize=from_finalize)]
        if event.words:
            self._last_end = event.words[-1].end
        if self.utterance_end:
            out.append({"type": "UtteranceEnd", "channel": [0, 1], "last_word_end": round(self._last_end, 3)})
        return out

    def _results(
        self,
        words: list[Word],
        is_final: bool,
        speech_final: bool = False,
        from_finalize: bool = False,
        since: float | None = None,
    ) -> dict[str, Any]:
        """A ``Results`` message; with no words it covers ``since`` to now."""
        start = words[0].start if words else (self.audio_s if since is None else since)
        end = words[-1].end if words else self.audio_s
        items = [
            {
                "word": w.text.lower().strip(".,!?;:"),
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "confidence": round(w.p, 4),
                "punctuated_word": w.text,
            }
            for w in words
        ]
        return {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": round(max(0.0, end - start), 3),
            "start": round(start, 3),
            "is_final": is_final,
            "speech_final": speech_final,
            "from_finalize": from_finalize,
            "channel": {
                "alternatives": [
                    {
                        "transcript": " ".join(w.text for w in words),
                        "confidence": round(sum(w.p for w in words) / len(words), 4) if words else 0.0,
                        "words": items,
                    }
                ]
            },
            "metadata": {
                "request_id": self.request_id,
                "model_info": {"name": self.model, "version": "emulated", "arch": "whisper-tiny-la2"},
                "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.model)),
            },
        }

    def command(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        kind = message["type"]
        if kind in ("Finalize", "CloseStream"):
            ended = self.engine.force_end(closing=kind == "CloseStream")
            out = [m for e in ended for m in self.messages(e, from_finalize=True)]
            self._said_at = self.audio_s
            if kind == "CloseStream":
                return [*out, self._metadata()], False
            return out, True
        if kind != "KeepAlive":
            raise ValueError(f"unknown message type {kind!r}")
        return [], True

    def _metadata(self) -> dict[str, Any]:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": self.request_id,
            "sha256": hashlib.sha256(self.request_id.encode()).hexdigest(),
            "created": datetime.now(UTC).isoformat(),
            "duration": round(self.audio_s, 3),
            "channels": 1,
        }

    def error(self) -> dict[str, Any]:
        return {"type": "Error", "variant": "ServerError", "description": "Emulated server error"}

    def check(self, message: dict[str, Any]) -> str:
        return checked(message)


class DeepgramEmulator:
    """Deepgram's websocket side for one path: refuses wrong keys at the handshake (HTTP 401, as
    the service does), one session per connection."""

    def __init__(
        self,
        models: Models,
        settings: Settings,
        faults: Faults,
        api_key: str | None = None,
        path: str = "/v1/listen",
        session: Callable[[Models, Settings, dict[str, str]], Session] = DeepgramNovaSession,
        check_query: Callable[[dict[str, str]], None] = DeepgramNovaSession.check_query,
    ) -> None:
        self._models = models
        self._settings = settings
        self._faults = faults
        self._api_key = api_key
        self._path = path
        self._session = session
        self._check_query = check_query  # ValueError: the handshake is refused with HTTP 400
        self.sessions = 0
        """Connections accepted so far."""
        self.commands: deque[list[tuple[float, str]]] = deque(maxlen=1000)
        """Per connection (the latest 1000), the commands it took: (seconds of its audio before
        each, type)."""
        self._open = OpenCount()

    def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        if urlparse(request.path).path.rstrip("/") != self._path:
            return Response(404, "Not Found", Headers(), b"not found")
        auth = request.headers.get("Authorization", "")
        if self._api_key is not None and auth not in (f"Token {self._api_key}", f"Bearer {self._api_key}"):
            return Response(401, "Unauthorized", Headers(), b'{"err_code":"INVALID_AUTH"}')
        try:
            self._check_query({k: v[-1] for k, v in parse_qs(urlparse(request.path).query).items()})
        except ValueError as e:
            body = {"err_code": "Bad Request", "err_msg": str(e), "request_id": str(uuid.uuid4())}
            headers = Headers({"Content-Type": "application/json"})
            return Response(400, "Bad Request", headers, json.dumps(body).encode())
        return None

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        query = {k: v[-1] for k, v in parse_qs(urlparse(ws.request.path).query).items()}
        session = self._session(self._models, self._settings, query)
        self.sessions += 1
        connection = Connection(ws, session, self._faults, bad_schema=1008)
        self.commands.append(connection.commands)
        self._open.opened()
        try:
            await connection.run()
        finally:
            self._open.closed()  # the last one out gives the memory back


DeepgramNovaEmulator = DeepgramEmulator
