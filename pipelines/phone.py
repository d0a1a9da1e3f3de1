"""The phone bot: Twilio Media Streams in, the core, the bot's voice out; one pipeline per call.

::

    POST /twiml           Twilio's voice webhook, signed (X-Twilio-Signature, TWILIO_AUTH_TOKEN):
                          <Connect><Stream url="wss://.../ws"> with a one-time token, or <Say> and
                          <Hangup/> when every line is taken (or the server is draining)
    WS   /ws              the Media Stream: connected, start (the token), media ... stop. Pipecat's
                          FastAPIWebsocketTransport with our Twilio serializer (μ-law 8 kHz <-> 16 kHz
                          PCM, clear, mark, DTMF) around the core (agent.pipeline, PHONE shell)
    GET  /healthz         {"status", "calls", "on_their_way", "max_calls", "refused"}; 503 while draining
    GET  /calls/{sid}     the server's timeline of a finished call, signed like a webhook

The models are loaded once per process and shared; every call has its own processors, timeline
and context, in its own task, so one call's bad frames or provider error end that call only.
SIGTERM stops taking calls (the webhook answers "busy") and lets the calls under way finish, for
at most ``phone.drain_s``; a second SIGTERM or a SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from loguru import logger
from pipecat.frames.frames import EndFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

from agent.events import Timeline
from agent.llm.reply import ReplySource
from agent.logs import about
from agent.media import SAMPLE_RATE
from agent.memory import give_back
from agent.models import Models
from agent.phone.chunker import FixedChunks
from agent.phone.desk import CallDesk
from agent.phone.protocol import ProtocolError, StreamStart, decode, parse_start
from agent.phone.recorder import CallRecorder
from agent.phone.serializer import TwilioMarkSerializer
from agent.phone.twiml import busy_answer, signed, stream_answer, websocket_url
from agent.pipeline import PHONE, build
from agent.settings import Settings
from pipelines.live import Responder, write_record

_POLICY_VIOLATION = 1008


@dataclass(frozen=True)
class ServeOptions:
    """How ``agent serve`` runs (see its --help)."""

    host: str
    port: int
    public_url: str
    auth_token: str
    max_calls: int
    llm: str  # "openai" or "echo"
    scripted_replies: Path | None = None
    out: Path | None = None
    stream_url: str | None = None  # where Twilio opens the stream (default: public URL + /ws)


def create_app(models: Models, settings: Settings, options: ServeOptions) -> FastAPI:
    """The phone server's FastAPI app (its ``state.desk`` is the call bookkeeping)."""
    app = FastAPI(title="agent serve", docs_url=None, redoc_url=None, openapi_url=None)
    desk = CallDesk(options.max_calls, settings.phone)
    app.state.desk = desk
    public = options.public_url.rstrip("/")
    stream_url = options.stream_url or websocket_url(public, "/ws")

    @app.post("/twiml")
    async def twiml(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        query = request.url.query
        url = public + "/twiml" + (f"?{query}" if query else "")  # Twilio signs the URL it called
        if not signed(options.auth_token, url, form, request.headers.get("X-Twilio-Signature")):
            logger.warning("webhook refused: missing or wrong X-Twilio-Signature")
            return Response("invalid signature\n", status_code=403, media_type="text/plain")
        call_sid = form.get("CallSid", "")
        token = desk.admit(call_sid, time.time()) if call_sid else None
        if token is None:
            return Response(busy_answer(settings.phone.busy_message), media_type="text/xml")
        parameters = {"token": token}
        scenario = request.query_params.get("scenario")
        if options.scripted_replies is not None and scenario:
            parameters["scenario"] = scenario  # Twilio hands it to the stream's start
        return Response(stream_answer(stream_url, parameters), media_type="text/xml")

    @app.get("/healthz")
    async def healthz() -> Response:
        health = desk.health(time.time())  # 503 while draining: a load balancer stops sending calls
        return Response(
            json.dumps(health), status_code=503 if desk.draining else 200, media_type="application/json"
        )

    @app.get("/calls/{call_sid}")
    async def call_record(call_sid: str, request: Request) -> Response:
        url = f"{public}/calls/{call_sid}"
        if not signed(options.auth_token, url, {}, request.headers.get("X-Twilio-Signature")):
            return Response("invalid signature\n", status_code=403, media_type="text/plain")
        record = desk.record(call_sid)
        if record is None:
            return Response("no such finished call\n", status_code=404, media_type="text/plain")
        return Response(json.dumps(record), media_type="application/json")

    @app.websocket("/ws")
    async def media_stream(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            start = await asyncio.wait_for(_read_start(websocket), settings.phone.start_timeout_s)
            desk.open(start, time.time())
        except (ProtocolError, TimeoutError, WebSocketDisconnect) as e:
            reason = str(e) or "no 'start' in time"
            logger.warning(f"stream refused: {reason}")
            await _close(websocket, reason)
            return
        record: dict[str, Any] = {"call_sid": start.call_sid, "stream_sid": start.stream_sid}
        try:
            with about(call=start.call_sid):
                record = await run_call(websocket, start, models, settings, options)
        except Exception as e:  # this call ends; the others go on
            logger.bind(call=start.call_sid).error(f"the call failed: {type(e).__name__}: {e}")
            record["error"] = f"{type(e).__name__}: {e}"
        finally:
            desk.close(start.call_sid, record)
            give_back()  # a call leaves cycles and native buffers behind: free them now

    return app


async def _read_start(websocket: WebSocket) -> StreamStart:
    """Twilio's ``connected`` (optional) then ``start``; anything else first is a protocol error."""
    connected = False
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise ProtocolError("the stream closed before 'start'")
        text, data = message.get("text"), message.get("bytes")
        event = decode(text if text is not None else data or b"")
        if event["event"] == "connected" and not connected:
            connected = True
            continue
        if event["event"] != "start":
            raise ProtocolError(f"{event['event']!r} before 'start'")
        return parse_start(event)


async def _close(websocket: WebSocket, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the other side
        await websocket.close(code=_POLICY_VIOLATION, reason=reason[:120])


def replies_for(
    start: StreamStart, settings: Settings, options: ServeOptions
) -> tuple[ReplySource, str | None]:
    """The call's replies and greeting: a scenario's scripted lines when the caller names one and
    the server allows it (--scripted-replies), else the configured LLM, else the offline echo."""
    name = start.parameters.get("scenario")
    if options.scripted_replies is not None and name:
        try:
            return Responder("scripted", options.scripted_replies).make(settings, name)
        except ValueError as e:
            raise ProtocolError(f"stream {start.stream_sid}: {e}") from e
    return Responder(options.llm, greeting=settings.phone.greeting).make(settings)


async def run_call(
    websocket: WebSocket, start: StreamStart, models: Models, settings: Settings, options: ServeOptions
) -> dict[str, Any]:
    """One call, from its ``start`` to its end; returns what the server keeps of it."""
    began = time.perf_counter()
    timeline = Timeline()
    problems: list[str] = []
    replies, greeting = replies_for(start, settings, options)

    def protocol_error(reason: str) -> None:
        if not problems:
            logger.bind(call=start.call_sid).warning(f"protocol error, closing: {reason}")
            asyncio.get_running_loop().create_task(_close(websocket, reason))
        problems.append(reason)

    serializer = TwilioMarkSerializer(start.stream_sid, start.call_sid, protocol_error)
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            audio_in_sample_rate=SAMPLE_RATE,
            audio_out_sample_rate=SAMPLE_RATE,
            audio_out_10ms_chunks=2,  # our 20 ms frames, each followed by its marks, in order
            add_wav_header=False,
            serializer=serializer,
            allowed_origins=[],
        ),
    )
    core = build(models, settings, replies, timeline, greeting, shell=PHONE)
    chunks = FixedChunks(settings.replay.chunk_ms, enable_direct_mode=True)
    mic = CallRecorder(timeline, enable_direct_mode=True)
    worker = PipelineWorker(
        Pipeline([transport.input(), chunks, mic, *core.processors, transport.output()]),
        params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
        idle_timeout_secs=None,
        enable_rtvi=False,
        enable_turn_tracking=False,
        check_dangling_tasks=False,
    )

    async def hung_up(_transport: object, _ws: object) -> None:
        await worker.queue_frame(EndFrame())  # the recogniser makes the last words final

    async def failed(_worker: object, frame: Any) -> None:
        problems.append(f"pipeline error: {getattr(frame, 'error', frame)}")
        if getattr(frame, "fatal", False):
            await worker.cancel(reason="fatal error")

    transport.add_event_handler("on_client_disconnected", hung_up)
    worker.add_event_handler("on_pipeline_error", failed)

    runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    await running  # ends when the caller hangs up (EndFrame) or on a fatal error
    audio = mic.audio
    record: dict[str, Any] = {
        "call_sid": start.call_sid,
        "stream_sid": start.stream_sid,
        "scenario": start.parameters.get("scenario"),
        "events": timeline.sorted_events(),
        "context": [dict(m) for m in core.context.get_messages() if isinstance(m, dict)],
        "compute_seconds": {s.name: round(s.compute_seconds, 3) for s in core.stages},
        "audio_seconds": round(len(audio) / SAMPLE_RATE, 3),
        "wall_seconds": round(time.perf_counter() - began, 3),
        "marks_played": serializer.marks_played,
        "problems": problems,
    }
    if options.out is not None:
        folder, title = options.out / start.call_sid, f"call {start.call_sid}"
        await asyncio.to_thread(write_record, folder, record, title, mic.pcm, core)  # other calls flow on
    return record


class _DrainingServer(uvicorn.Server):
    """uvicorn, except that the first SIGTERM drains: no new calls, the current ones finish."""

    def __init__(self, config: uvicorn.Config, desk: CallDesk, drain_s: float) -> None:
        super().__init__(config)
        self._desk = desk
        self._drain_s = drain_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining: asyncio.Future[None] | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self._desk.draining and self._loop is not None:
            self._desk.draining = True
            logger.warning(f"SIGTERM: taking no new calls; {self._desk.active} under way may finish")
            self._loop.call_soon_threadsafe(self._start_drain)
            return
        super().handle_exit(sig, frame)

    def _start_drain(self) -> None:
        self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        deadline = time.monotonic() + self._drain_s
        while self._desk.active and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.0)  # a caller may still read its call's record (GET /calls/...)
        self.should_exit = True


def serve(models: Models, settings: Settings, options: ServeOptions) -> int:
    """Run the phone server until it is stopped (exit code 0)."""
    app = create_app(models, settings, options)
    config = uvicorn.Config(
        app, host=options.host, port=options.port, log_level="warning", ws_ping_interval=None
    )
    server = _DrainingServer(config, app.state.desk, settings.phone.drain_s)
    print(
        f"agent serve: webhook {options.public_url.rstrip('/')}/twiml, stream "
        f"{options.stream_url or websocket_url(options.public_url, '/ws')}, up to {options.max_calls} calls",
        flush=True,
    )
    asyncio.run(server.serve())
    return 0
