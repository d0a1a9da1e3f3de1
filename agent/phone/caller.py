"""``agent call``: a caller that plays Twilio's whole part of a phone call, over the real protocol.

One call, as Twilio and the person on the phone make it::

    POST URL/twiml  (CallSid, From, To ...; X-Twilio-Signature signed with TWILIO_AUTH_TOKEN)
      <- TwiML <Connect><Stream url=... ><Parameter .../>     (or <Say> + <Hangup/>: refused)
    WS stream url:  connected, start (streamSid, callSid, the TwiML's parameters)
      every 20 ms (real time): play 20 ms of the bot's buffered audio, echo the marks it passed,
                               send 20 ms of the scenario's microphone audio as μ-law media
      on media: queue the bot's audio; on mark: queue it; on clear: drop the queue, echo its marks
    stop, close; then GET URL/calls/{CallSid} (signed): the server's timeline of the call

The scenario's steps start by what the caller hears (:class:`~agent.phone.playout.Playout` is the
player's view of the bot), so a cut-in cuts into the audio as it reaches the phone. Times are the
caller's media time: samples sent, 20 ms per tick.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import websockets

from agent.media import SAMPLE_RATE, AudioHistory, db_to_gain
from agent.phone.g711 import Downsampler, Upsampler, ulaw_decode, ulaw_encode
from agent.phone.playout import Echo, Playout
from agent.phone.twiml import read_answer, signature
from agent.replay.assemble import Clip
from agent.replay.background import BackgroundTrack
from agent.replay.player import ScenarioPlayer
from agent.replay.runner import media_budget
from agent.replay.scenario import Scenario

TICK_S = 0.02
_N = round(TICK_S * SAMPLE_RATE)
_TWILIO_RATE = 8000


class CallFailed(RuntimeError):
    """The call could not be placed or broke off (one line)."""


@dataclass
class CallResult:
    """What the caller saw and heard of one call, in its own media time."""

    call_sid: str
    scenario: Scenario
    player: ScenarioPlayer
    playout: Playout
    mic: np.ndarray
    heard: np.ndarray
    echoes: list[Echo]
    clears: list[float]
    server: dict[str, Any] | None
    wall_seconds: float
    began: float
    """When the call was placed (``time.perf_counter()``)."""
    late_ticks: int
    """Ticks the caller itself sent more than 20 ms late (a starved caller is no fair judge)."""
    refused: str | None = None
    notes: list[str] = field(default_factory=list)


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


class Caller:
    """Places one call to ``url`` and plays ``scenario`` into it in real time."""

    def __init__(
        self,
        url: str,
        auth_token: str,
        scenario: Scenario,
        clips: list[Clip],
        background: BackgroundTrack | None = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._token = auth_token
        self._scenario = scenario
        self._player = ScenarioPlayer(scenario, clips)
        self._background = background
        self._limit = min(600.0, media_budget(scenario, clips))
        self._playout = Playout()
        self._call_sid = new_sid("CA")
        self._stream_sid = new_sid("MZ")
        self._account_sid = "AC" + "0" * 32
        self._now = 0.0  # caller media time: audio sent so far
        self._echoes: list[Echo] = []
        self._clears: list[float] = []
        self._seq = 0
        self._down = Downsampler()
        self._up = Upsampler()
        self._heard = AudioHistory(30.0)

    async def run(self) -> CallResult:
        began = time.perf_counter()
        answer = await self._webhook()
        mic: list[np.ndarray] = []
        heard: list[np.ndarray] = []
        late = 0
        if answer.stream_url is None:
            refusal = answer.said or "the webhook answered without a stream"
            return self._result(mic, heard, None, began, late, refused=refusal)
        async with websockets.connect(answer.stream_url, max_size=None) as ws:
            await self._send(ws, {"event": "connected", "protocol": "Call", "version": "1.0.0"})
            await self._send(ws, self._start_message(answer.parameters))
            receiving = asyncio.create_task(self._receive(ws))
            try:
                late = await self._talk(ws, mic, heard, receiving)
                await self._send(ws, {"event": "stop", "stop": self._ids()})
            finally:
                receiving.cancel()
        server = await self._server_record()
        return self._result(mic, heard, server, began, late)

    async def _webhook(self) -> Any:
        params = {
            "AccountSid": self._account_sid,
            "CallSid": self._call_sid,
            "From": "+15005550006",
            "To": "+15005550001",
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
        }
        url = f"{self._url}/twiml?scenario={self._scenario.name}"
        headers = {"X-Twilio-Signature": signature(self._token, url, params)}
        async with httpx.AsyncClient(timeout=10.0) as http:
            try:
                response = await http.post(url, data=params, headers=headers)
            except httpx.HTTPError as e:
                raise CallFailed(f"{url}: webhook unreachable ({type(e).__name__}: {e})") from None
        if response.status_code != 200:
            raise CallFailed(f"{url}: webhook answered HTTP {response.status_code}: {response.text.strip()}")
        return read_answer(response.text)

    def _ids(self) -> dict[str, str]:
        return {"accountSid": self._account_sid, "callSid": self._call_sid}

    def _start_message(self, parameters: dict[str, str]) -> dict[str, Any]:
        start = {
            **self._ids(),
            "streamSid": self._stream_sid,
            "tracks": ["inbound"],
            "customParameters": parameters,
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": _TWILIO_RATE, "channels": 1},
        }
        return {"event": "start", "start": start}

    async def _send(self, ws: Any, message: dict[str, Any]) -> None:
        self._seq += 1
        message = {**message, "sequenceNumber": str(self._seq)}
        if message["event"] != "connected":
            message["streamSid"] = self._stream_sid
        await ws.send(json.dumps(message))

    async def _talk(
        self, ws: Any, mic: list[np.ndarray], heard: list[np.ndarray], receiving: asyncio.Task[None]
    ) -> int:
        """The 20 ms loop, in real time, until the scenario is over; returns the late ticks."""
        echo = self._scenario.echo
        gain = db_to_gain(echo.level_db) if echo else 0.0
        delay = echo.delay_ms / 1000 if echo else 0.0
        wall0 = time.monotonic()
        late = 0
        k = 0
        while not self._player.done and k * TICK_S < self._limit:
            if receiving.done():
                raise CallFailed(
                    f"call {self._call_sid}: the stream closed ({receiving.exception() or 'by the server'})"
                )
            t = k * TICK_S
            played, echoes = self._playout.play(_N, t)
            self._heard.append(played)
            heard.append(played)
            for e in echoes:
                await self._echo(ws, e)
            chunk = self._player.chunk(t, _N, self._playout)
            if gain:
                chunk = chunk + gain * self._heard.padded(t - delay, t + TICK_S - delay)
            if self._background is not None:
                chunk = chunk + self._background.next(_N)
            mic.append(chunk)
            await self._media(ws, chunk, k)
            self._now = t + TICK_S
            k += 1
            wait = wall0 + k * TICK_S - time.monotonic()
            if wait < -TICK_S:
                late += 1
            await asyncio.sleep(max(0.0, wait))
        return late

    async def _media(self, ws: Any, chunk: np.ndarray, k: int) -> None:
        ulaw = ulaw_encode(self._down(chunk))
        media = {
            "track": "inbound",
            "chunk": str(k + 1),
            "timestamp": str(round(k * TICK_S * 1000)),
            "payload": base64.b64encode(ulaw).decode(),
        }
        await self._send(ws, {"event": "media", "media": media})

    async def _echo(self, ws: Any, echo: Echo) -> None:
        self._echoes.append(echo)
        await self._send(ws, {"event": "mark", "mark": {"name": echo.name}})

    async def _receive(self, ws: Any) -> None:
        """The server's messages: bot audio, marks, clear."""
        async for raw in ws:
            message = json.loads(raw)
            event = message.get("event")
            if event == "media":
                payload = base64.b64decode(message["media"]["payload"])
                self._playout.receive_audio(self._up(ulaw_decode(payload)), self._now)
            elif event == "mark":
                self._playout.receive_mark(message["mark"]["name"])
            elif event == "clear":
                self._clears.append(self._now)
                for e in self._playout.clear(self._now):
                    await self._echo(ws, e)

    async def _server_record(self) -> dict[str, Any] | None:
        """The server's own timeline of this call, once it has finished it (None if not given)."""
        url = f"{self._url}/calls/{self._call_sid}"
        headers = {"X-Twilio-Signature": signature(self._token, url, {})}
        async with httpx.AsyncClient(timeout=5.0) as http:
            for _ in range(100):
                try:
                    response = await http.get(url, headers=headers)
                except httpx.HTTPError:
                    response = None
                if response is not None and response.status_code == 200:
                    record: dict[str, Any] = response.json()
                    return record
                if response is not None and response.status_code == 403:
                    return None
                await asyncio.sleep(0.2)
        return None

    def _result(
        self,
        mic: list[np.ndarray],
        heard: list[np.ndarray],
        server: dict[str, Any] | None,
        began: float,
        late: int,
        refused: str | None = None,
    ) -> CallResult:
        def join(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, np.float32)

        return CallResult(
            call_sid=self._call_sid,
            scenario=self._scenario,
            player=self._player,
            playout=self._playout,
            mic=join(mic),
            heard=join(heard),
            echoes=self._echoes,
            clears=self._clears,
            server=server,
            wall_seconds=time.perf_counter() - began,
            began=began,
            late_ticks=late,
            refused=refused,
        )
