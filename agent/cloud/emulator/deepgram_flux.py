"""Deepgram Flux (``/v2/listen``, ``flux-general-en``) on loopback, from our local recogniser.

Protocol (``wss://api.deepgram.com/v2/listen``, served here as ``ws://HOST:PORT/v2/listen``)::

    client                                        emulator
    connect ?model=flux-general-en&encoding=  ──► (Authorization: Token KEY; 401 if wrong)
            linear16&sample_rate=16000&eot_threshold&eager_eot_threshold&eot_timeout_ms
                                              ◄── Connected {request_id, sequence_id}
    binary PCM s16le                          ──►
                                              ◄── TurnInfo StartOfTurn   {turn_index}
                                              ◄── TurnInfo Update        (transcript so far: it may
                                                                          still change in the turn;
                                                                          every 0.25 s of audio)
                                              ◄── TurnInfo EagerEndOfTurn (eager_eot_threshold)
                                              ◄── TurnInfo TurnResumed    (the user went on)
                                              ◄── TurnInfo EndOfTurn      {trigger: model | manual}
    {"type": "ForceEndTurn"}                  ──► EndOfTurn (trigger: manual)
    {"type": "Configure", "thresholds": {...}} ─► ConfigureSuccess
    {"type": "CloseStream"}                   ──► last EndOfTurn, close 1000

Every message carries ``sequence_id`` (0, 1, 2, ...) and is checked against the SDK's models.
Settings map onto ours: ``eot_threshold`` is the hybrid's neutral threshold, ``eot_timeout_ms`` its
maximum silence, ``eager_eot_threshold`` the controller's eager score (no eager end without it).
"""

from __future__ import annotations

import uuid
from typing import Any

from deepgram.listen.v2.types import (
    ListenV2ConfigureFailure,
    ListenV2ConfigureSuccess,
    ListenV2Connected,
    ListenV2FatalError,
    ListenV2TurnInfo,
)
from pydantic import TypeAdapter

from agent.cloud.emulator.connection import EmulatedAudio, query_number, sdk_checker
from agent.cloud.emulator.deepgram_nova import DeepgramEmulator
from agent.cloud.emulator.faults import Faults
from agent.cloud.engine import EagerEnd, EndOfTurn, Event, LocalTurnEngine, Resumed, SpeechStarted, Words
from agent.events import Word
from agent.models import Models
from agent.settings import Settings

UPDATE_EVERY_S = 0.25
"""An ``Update`` at least this often (seconds of audio), as Flux sends them."""

_MODELS: dict[str, Any] = {
    "Connected": TypeAdapter(ListenV2Connected),
    "TurnInfo": TypeAdapter(ListenV2TurnInfo),
    "ConfigureSuccess": TypeAdapter(ListenV2ConfigureSuccess),
    "ConfigureFailure": TypeAdapter(ListenV2ConfigureFailure),
    "Error": TypeAdapter(ListenV2FatalError),
}


checked = sdk_checker(_MODELS)
"""The message as JSON, after the SDK's own model accepted it (ValueError otherwise)."""


class DeepgramFluxSession(EmulatedAudio):
    """One ``/v2/listen`` connection."""

    @staticmethod
    def check_query(query: dict[str, str]) -> None:
        """ValueError for a query Deepgram would refuse at the handshake (HTTP 400): the ranges
        its Flux documentation gives."""
        query_number(query, "sample_rate", 16000, 8000, 48000, integer=True)
        for name, (low, high) in _THRESHOLDS.items():
            query_number(query, name, low, low, high, integer=name == "eot_timeout_ms")

    def __init__(self, models: Models, settings: Settings, query: dict[str, str]) -> None:
        self.check_query(query)
        self.sample_rate = int(query.get("sample_rate", "16000") or 16000)
        own = settings.model_copy(deep=True)
        eager = query.get("eager_eot_threshold")
        self.eager: float | None = float(eager) if eager is not None else None
        own.hybrid.threshold = float(query.get("eot_threshold", own.hybrid.threshold))
        timeout_ms = int(query.get("eot_timeout_ms", round(own.hybrid.max_silence_s * 1000)))
        own.hybrid.max_silence_s = timeout_ms / 1000
        self.thresholds: dict[str, Any] = {
            "eot_threshold": own.hybrid.threshold,
            "eager_eot_threshold": self.eager,
            "eot_timeout_ms": round(own.hybrid.max_silence_s * 1000),
        }
        super().__init__(LocalTurnEngine(models, own, eager_score=self.eager), self.sample_rate)
        self.request_id = str(uuid.uuid4())
        self._sequence = 0
        self._turn = 0
        self._in_turn = False
        self._words: list[Word] = []
        self._told_at = 0.0  # seconds of session audio at the last message

    def greet(self) -> list[dict[str, Any]]:
        return [self._stamp({"type": "Connected", "request_id": self.request_id})]

    def audio(self, pcm: bytes) -> list[dict[str, Any]]:
        """Messages for more audio. Flux sends an ``Update`` for about every 0.25 s of audio
        whether or not the transcript changed (its state-machine guide), silence included."""
        out = [m for event in self.feed(pcm) for m in self.messages(event)]
        if out:
            self._told_at = self.audio_s
        elif self.audio_s - self._told_at >= UPDATE_EVERY_S - 1e-9:
            self._told_at = self.audio_s
            out = [self._info("Update", 0.0)]
        return out

    def messages(self, event: Event, trigger: str = "model") -> list[dict[str, Any]]:
        if isinstance(event, SpeechStarted):
            if self._in_turn:
                return []
            self._in_turn, self._words = True, []
            return [self._info("StartOfTurn", 0.0)]
        if isinstance(event, Words):
            self._words = [*event.final, *event.partial]
            return [self._info("Update", 0.0)] if self._in_turn else []
        if isinstance(event, EagerEnd):
            return [self._info("EagerEndOfTurn", event.confidence)] if self._in_turn else []
        if isinstance(event, Resumed):
            return [self._info("TurnResumed", 0.0)] if self._in_turn else []
        assert isinstance(event, EndOfTurn)
        self._words = list(event.words)
        out = [self._info("EndOfTurn", event.confidence, trigger)]
        self._turn += 1
        self._in_turn, self._words = False, []
        return out

    def _info(self, kind: str, confidence: float, trigger: str | None = None) -> dict[str, Any]:
        words = self._words
        message: dict[str, Any] = {
            "type": "TurnInfo",
            "request_id": self.request_id,
            "event": kind,
            "turn_index": self._turn,
            "audio_window_start": round(words[0].start if words else self.audio_s, 3),
            "audio_window_end": round(self.audio_s, 3),
            "transcript": " ".join(w.text for w in words),
            "words": [
                {
                    "word": w.text,
                    "confidence": round(w.p, 4),
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                }
                for w in words
            ],
            "end_of_turn_confidence": round(min(1.0, max(0.0, confidence)), 4),
        }
        if trigger is not None:
            message["trigger"] = trigger
        return self._stamp(message)

    def _stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        message["sequence_id"] = self._sequence
        self._sequence += 1
        return message

    def command(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        kind = message["type"]
        if kind in ("ForceEndTurn", "CloseStream"):
            ended = self.engine.force_end(closing=kind == "CloseStream")
            out = [m for e in ended for m in self.messages(e, trigger="manual")]
            return out, kind == "ForceEndTurn"
        if kind == "Configure":
            problem = _configure_problem(message)
            if problem is not None:  # Flux keeps the stream and its settings, and says why
                failure = {"type": "ConfigureFailure", "request_id": self.request_id}
                return [self._stamp({**failure, "code": "INVALID_CONFIGURE", "description": problem})], True
            changed = {k: v for k, v in (message.get("thresholds") or {}).items() if v is not None}
            self.thresholds.update(changed)
            reply = {"type": "ConfigureSuccess", "request_id": self.request_id, "thresholds": self.thresholds}
            reply["keyterms"] = message.get("keyterms") or []
            return [self._stamp(reply)], True
        raise ValueError(f"unknown message type {kind!r}")

    def error(self) -> dict[str, Any]:
        return self._stamp(
            {"type": "Error", "code": "INTERNAL_SERVER_ERROR", "description": "Emulated error"}
        )

    def check(self, message: dict[str, Any]) -> str:
        return checked(message)


_THRESHOLDS = {"eot_threshold": (0.5, 1.0), "eager_eot_threshold": (0.3, 0.9), "eot_timeout_ms": (500, 60000)}
"""Flux's end-of-turn settings and their documented ranges."""


def _configure_problem(message: dict[str, Any]) -> str | None:
    """Why Flux would refuse a ``Configure`` message's thresholds (None: it takes them)."""
    thresholds = message.get("thresholds")
    if thresholds is None:
        return None
    if not isinstance(thresholds, dict):
        return f"thresholds must be an object, got {type(thresholds).__name__}"
    for name, value in thresholds.items():
        if name not in _THRESHOLDS:
            return f"unknown threshold {name!r}"
        low, high = _THRESHOLDS[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and (not number or not low <= value <= high):
            return f"{name} must be a number from {low:g} to {high:g}, got {value!r}"
    return None


def flux_emulator(
    models: Models, settings: Settings, faults: Faults, api_key: str | None = None
) -> DeepgramEmulator:
    """The Flux emulator: ``/v2/listen`` with a :class:`DeepgramFluxSession` per connection."""
    return DeepgramEmulator(
        models,
        settings,
        faults,
        api_key,
        path="/v2/listen",
        session=DeepgramFluxSession,
        check_query=DeepgramFluxSession.check_query,
    )
