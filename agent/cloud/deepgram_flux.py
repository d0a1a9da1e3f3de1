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

from typing import Any

from pydantic import BaseModel, Field

from agent.cloud.deepgram_socket import DeepgramSession
from agent.cloud.provider import CloudAlive, CloudClosed, CloudTurn, CloudWords
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


class DeepgramFluxProvider(DeepgramSession):
    """One Flux session; events go to ``events``."""

    name = "deepgram-flux"
    label = "Deepgram Flux"
    path = "/v2/listen"
    finals_at_turn_end = True

    def __init__(
        self, settings: DeepgramFluxSettings, url: str | None = None, key: str | None = None
    ) -> None:
        super().__init__(url, key)
        self._settings = settings
        self._ended: set[int] = set()

    def open(self, client: Any) -> Any:
        s = self._settings
        options = {
            "eot_threshold": s.eot_threshold,
            "eager_eot_threshold": s.eager_eot_threshold,
            "eot_timeout_ms": s.eot_timeout_ms,
        }
        return client.listen.v2.connect(
            model=s.model,
            encoding="linear16",
            sample_rate="16000",
            **{k: str(v) for k, v in options.items() if v is not None},
        )

    async def finalize(self) -> None:
        if self._socket is not None:
            await self._socket.send_force_end_turn()

    async def configure(self, **thresholds: float) -> None:
        """Change ``eot_threshold`` / ``eager_eot_threshold`` / ``eot_timeout_ms`` mid-stream."""
        if self._socket is not None:
            await self._socket.send_configure({"type": "Configure", "thresholds": thresholds})

    async def take(self, message: Any) -> None:
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
