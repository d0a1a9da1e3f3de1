"""AssemblyAI Universal-Streaming v3 on loopback, answered by our local recogniser and turn logic.

Protocol (``wss://streaming.assemblyai.com/v3/ws``, served here as ``ws://HOST:PORT/v3/ws``)::

    client                                   emulator
    connect ?sample_rate=16000&...  ───────►  (Authorization header; 4001 "Not Authorized"
                                              when --api-key is set and does not match)
                                    ◄───────  Begin {id, expires_at}
    binary PCM s16le (~50 ms)       ───────►
                                    ◄───────  SpeechStarted {timestamp}
                                    ◄───────  Turn {turn_order, end_of_turn: false,
                                                    transcript: final words only,
                                                    words: [{text, start, end, confidence,
                                                             word_is_final}]}   (xN)
                                    ◄───────  Turn {end_of_turn: true, end_of_turn_confidence}
                                    ◄───────  Turn {..., turn_is_formatted: true} (format_turns)
    {"type": "ForceEndpoint"}       ───────►  ends the turn now
    {"type": "UpdateConfiguration", ...}      end-of-turn settings mid-stream
    {"type": "Terminate"}           ───────►  in-flight Turn, Termination, close 1000
    (session_heartbeat=true)        ◄───────  Heartbeat each second of audio

Word times are milliseconds of session audio. Unformatted transcripts are lower case without
punctuation, as the service sends them; the formatted one is Whisper's own text. Settings map
onto the hybrid detector: ``min_turn_silence`` (or the older
``min_end_of_turn_silence_when_confident``) is its first check, ``max_turn_silence`` its
maximum silence, ``end_of_turn_confidence_threshold`` its threshold for neutral words. Every
message is validated against the official SDK's models before it is sent.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlparse

from assemblyai.streaming.v3 import models as aai
from websockets.asyncio.server import ServerConnection

from agent.cloud.emulator.connection import Connection, EmulatedAudio, sdk_checker
from agent.cloud.emulator.faults import Faults
from agent.cloud.engine import EndOfTurn, Event, LocalTurnEngine, SpeechStarted, Words
from agent.events import Word
from agent.memory import OpenCount
from agent.models import Models
from agent.settings import Settings

_MODELS: dict[str, Any] = {
    "Begin": aai.BeginEvent,
    "Turn": aai.TurnEvent,
    "SpeechStarted": aai.SpeechStartedEvent,
    "Termination": aai.TerminationEvent,
    "Error": aai.ErrorEvent,
    "Heartbeat": aai.HeartbeatEvent,
}


checked = sdk_checker(_MODELS)
"""The message as JSON, after the SDK's own model accepted it (ValueError otherwise)."""


def _plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c in "' -").strip()


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class AssemblyAISession(EmulatedAudio):
    """One client connection: parameters, turn numbering, message shapes."""

    def __init__(self, models: Models, settings: Settings, query: dict[str, str]) -> None:
        self.sample_rate = int(query.get("sample_rate", "0") or 0)
        self.format_turns = query.get("format_turns", "false").lower() == "true"
        self.heartbeat = query.get("session_heartbeat", "false").lower() == "true"
        self._next_beat = 1.0
        self._settings = settings.model_copy(deep=True)
        self.configure(query)
        super().__init__(LocalTurnEngine(models, self._settings), self.sample_rate)
        self.turn_order = 0
        self.began = time.monotonic()

    def configure(self, params: dict[str, Any]) -> None:
        """Apply end-of-turn settings (connection query or UpdateConfiguration)."""
        h = self._settings.hybrid
        silence = params.get("min_turn_silence", params.get("min_end_of_turn_silence_when_confident"))
        if silence is not None:
            h.delay_s = float(silence) / 1000
        if params.get("max_turn_silence") is not None:
            h.max_silence_s = float(params["max_turn_silence"]) / 1000
        if params.get("end_of_turn_confidence_threshold") is not None:
            h.threshold = float(params["end_of_turn_confidence_threshold"])

    def greet(self) -> list[dict[str, Any]]:
        return [{"type": "Begin", "id": str(uuid.uuid4()), "expires_at": int(time.time()) + 3600}]

    def audio(self, pcm: bytes) -> list[dict[str, Any]]:
        out = [m for event in self.feed(pcm) for m in self.messages(event)]
        beat = self.heartbeat_due()
        return out + ([beat] if beat is not None else [])

    def command(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        kind = message["type"]
        if kind in ("Terminate", "ForceEndpoint"):
            closing = kind == "Terminate"
            out = [m for event in self.engine.force_end(closing) for m in self.messages(event)]
            if kind == "Terminate":
                return [*out, self.termination()], False
            return out, True
        if kind == "UpdateConfiguration":
            self.configure(message)
        elif kind != "KeepAlive":
            raise ValueError(f"unknown message type {kind!r}")
        return [], True

    def error(self) -> dict[str, Any]:
        return {"type": "Error", "error_code": 3005, "error": "Emulated server error"}

    def check(self, message: dict[str, Any]) -> str:
        return checked(message)

    def heartbeat_due(self) -> dict[str, Any] | None:
        """A Heartbeat each second of audio, when the client asked for them."""
        if not self.heartbeat or self.audio_s < self._next_beat:
            return None
        self._next_beat += 1.0
        return {
            "type": "Heartbeat",
            "total_audio_received_ms": _ms(self.audio_s),
            "total_duration_ms": _ms(time.monotonic() - self.began),
            "realtime_factor": round(self.audio_s / max(1e-3, time.monotonic() - self.began), 3),
        }

    def messages(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, SpeechStarted):
            return [{"type": "SpeechStarted", "timestamp": _ms(event.onset)}]
        if isinstance(event, Words):
            return [self._turn(list(event.final), list(event.partial), end=False, confidence=0.0)]
        if not isinstance(event, EndOfTurn):
            return []  # AssemblyAI has no eager end
        out = [self._turn(list(event.words), [], end=True, confidence=event.confidence)]
        if self.format_turns:
            out.append(
                self._turn(list(event.words), [], end=True, confidence=event.confidence, formatted=True)
            )
        self.turn_order += 1
        return out

    def _turn(
        self, final: list[Word], partial: list[Word], end: bool, confidence: float, formatted: bool = False
    ) -> dict[str, Any]:
        def word(w: Word, is_final: bool) -> dict[str, Any]:
            text = w.text if formatted else _plain(w.text)
            return {
                "start": _ms(w.start),
                "end": _ms(w.end),
                "text": text,
                "confidence": round(w.p, 4),
                "word_is_final": is_final,
            }

        words = [word(w, True) for w in final] + [word(w, False) for w in partial]
        transcript = " ".join(x["text"] for x in words if x["word_is_final"])
        return {
            "type": "Turn",
            "turn_order": self.turn_order,
            "turn_is_formatted": formatted,
            "end_of_turn": end,
            "transcript": transcript,
            "end_of_turn_confidence": round(min(1.0, max(0.0, confidence)), 4),
            "words": [x for x in words if x["text"]],
        }

    def termination(self) -> dict[str, Any]:
        return {
            "type": "Termination",
            "audio_duration_seconds": round(self.audio_s),
            "session_duration_seconds": round(time.monotonic() - self.began),
        }


class AssemblyAIEmulator:
    """The websocket handler: one :class:`AssemblyAISession` per connection."""

    def __init__(
        self, models: Models, settings: Settings, faults: Faults, api_key: str | None = None
    ) -> None:
        self._models = models
        self._settings = settings
        self._faults = faults
        self._api_key = api_key
        self.sessions = 0
        """Connections accepted so far."""
        self.commands: deque[list[tuple[float, str]]] = deque(maxlen=1000)
        """Per connection (the latest 1000), the commands it took: (seconds of its audio before
        each, type)."""
        self._open = OpenCount()

    async def handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        url = urlparse(ws.request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        key = ws.request.headers.get("Authorization") or query.get("token")
        if url.path.rstrip("/") != "/v3/ws":
            await ws.close(4004, "Session not found")
            return
        if self._api_key is not None and key != self._api_key:
            await ws.close(4001, "Not Authorized")
            return
        try:
            session = AssemblyAISession(self._models, self._settings, query)
        except ValueError:
            session = None
        if session is None or session.sample_rate <= 0:
            await ws.close(4000, "Sample rate must be a positive integer")
            return
        self.sessions += 1
        connection = Connection(ws, session, self._faults, bad_schema=4101)
        self.commands.append(connection.commands)
        self._open.opened()
        try:
            await connection.run()
        finally:
            self._open.closed()  # the last one out gives the memory back
