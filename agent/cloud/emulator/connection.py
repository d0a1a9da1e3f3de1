"""One emulated provider connection: audio and commands in, checked messages out, faults applied.

Each provider supplies a :class:`Session` that knows its message shapes; this loop is the same for
all of them::

    greet() ──► messages
    binary audio ──► session.audio(pcm) (in a worker thread) ──► messages
    text command ──► session.command(json) ──► messages, and whether to go on
    faults: drop (abort, no close frame; ``drop_every`` on a wall-clock timer from the handshake,
    ``drop_at`` at a media time of session audio), error (the provider's error message, then
    close), stall (stop answering, keep the socket), delay (every message); a drop on close aborts
    at the client's close command instead of answering it
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Protocol

from loguru import logger
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from agent.cloud.emulator.faults import Faults
from agent.cloud.engine import Event, LocalTurnEngine
from agent.media import SAMPLE_RATE, from_pcm16, resample


class Session(Protocol):
    audio_s: float

    def greet(self) -> list[dict[str, Any]]:
        """Messages sent right after the handshake."""

    def audio(self, pcm: bytes) -> list[dict[str, Any]]:
        """Messages caused by a chunk of audio (runs in a worker thread)."""

    def command(self, message: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """Messages caused by a client command, and False when the session ends after them."""

    def error(self) -> dict[str, Any]:
        """The provider's error message (for --error-at)."""

    def check(self, message: dict[str, Any]) -> str:
        """The message as JSON once the provider SDK's model accepted it."""


def sdk_checker(models: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    """A ``check`` for messages keyed by ``type``: the SDK's pydantic model (or TypeAdapter) must
    accept each one before it is sent (ValueError otherwise)."""

    def check(message: dict[str, Any]) -> str:
        model = models[message["type"]]
        validate = getattr(model, "validate_python", None) or model.model_validate
        validate(message)
        return json.dumps(message)

    return check


class EmulatedAudio:
    """The audio side every emulated session shares: PCM s16le at the client's rate in, 16 kHz
    float into the local engine, seconds of session audio counted."""

    def __init__(self, engine: LocalTurnEngine, sample_rate: int) -> None:
        self.engine = engine
        self.sample_rate = sample_rate
        self.audio_s = 0.0
        self._odd = b""  # a frame's last byte when it ended mid-sample: the next one completes it

    def feed(self, pcm: bytes) -> list[Event]:
        """Events for more PCM; a frame may end mid-sample (a stream of bytes need not be cut at
        sample boundaries), and its last byte waits for the next frame."""
        pcm = self._odd + pcm
        cut = len(pcm) - len(pcm) % 2
        pcm, self._odd = pcm[:cut], pcm[cut:]
        audio = from_pcm16(pcm)
        self.audio_s += len(audio) / self.sample_rate
        if self.sample_rate != SAMPLE_RATE:
            audio = resample(audio, self.sample_rate, SAMPLE_RATE)
        return self.engine.feed(audio)


def query_number(
    query: dict[str, str], name: str, default: float, low: float, high: float, integer: bool = False
) -> float:
    """A number from a connection's query string, checked against the provider's documented range;
    ValueError (the message a provider's HTTP 400 would carry) otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    kind = "an integer" if integer else "a number"
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(f"{name} must be {kind} from {low:g} to {high:g}, got {raw!r}")
    return value


class Connection:
    """Serves one :class:`Session` over one websocket."""

    def __init__(self, ws: ServerConnection, session: Session, faults: Faults, bad_schema: int) -> None:
        self._ws = ws
        self._session = session
        self._faults = faults
        self._bad_schema = bad_schema  # the provider's close code for a message it cannot read
        self._lives_s = faults.next_drop()
        self.commands: list[tuple[float, str]] = []
        """Each command taken: (seconds of session audio before it, its type)."""

    async def run(self) -> None:
        drop = None
        if self._lives_s is not None:  # the line breaks on its own clock, whatever the audio
            drop = asyncio.get_running_loop().call_later(self._lives_s, self._ws.transport.abort)
        try:
            await self._send_all(self._session.greet())
            async for message in self._ws:
                if isinstance(message, bytes):
                    if not await self._audio(message):
                        return
                elif not await self._command(message):
                    return
        except ConnectionClosed:
            return
        except Exception as e:  # a bug of ours: the client gets the provider's 1011, the log one line
            logger.warning(f"emulator session failed: {type(e).__name__}: {e}")
            await self._ws.close(1011, "Internal server error")
        finally:
            if drop is not None:
                drop.cancel()

    async def _audio(self, pcm: bytes) -> bool:
        session, faults = self._session, self._faults
        await self._send_all(await asyncio.to_thread(session.audio, pcm))
        t = session.audio_s
        if faults.take_drop(t):
            self._ws.transport.abort()  # no close frame: a dropped network
            return False
        if faults.take_error(t):
            await self._send_all([session.error()])
            await self._ws.close(1011, "Emulated server error")
            return False
        if faults.take_stall(t):
            await self._ws.wait_closed()  # answer nothing more, keep the socket open
            return False
        return True

    async def _command(self, text: str | bytes) -> bool:
        try:
            message = json.loads(text)
            if not isinstance(message, dict) or "type" not in message:
                raise ValueError("no type")
            self.commands.append((self._session.audio_s, str(message["type"])))
            out, go_on = await asyncio.to_thread(self._session.command, message)
        except (ValueError, KeyError, TypeError, AttributeError):
            await self._ws.close(self._bad_schema, "Endpoint received a message with an invalid schema")
            return False
        if not go_on and self._faults.take_close_drop():
            self._ws.transport.abort()  # the link went down with the last results unsent
            return False
        await self._send_all(out)
        if not go_on:
            await self._ws.close(1000)
        return go_on

    async def _send_all(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            payload = self._session.check(m)
            if self._faults.delay_ms:
                await asyncio.sleep(self._faults.delay_ms / 1000)
            await self._ws.send(payload)
