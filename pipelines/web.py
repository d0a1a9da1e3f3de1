"""The browser demo: talk to the bot from a web page, over WebRTC (Pipecat's SmallWebRTC, aiortc).

::

    GET   /                          the page (``?autostart=1`` connects without a click)
    POST  /api/offer                 the page's SDP offer -> the answer, and the new session's name
    PATCH /api/offer                 ICE candidates that came after the offer (trickle ICE)
    GET   /api/sessions/{name}       the session's view: turn state, conversation, partial,
                                     latencies, lag; ``report`` once its files are written
    POST  /api/sessions/{name}/end   end it: the last words made final, then its files written
    GET   /sessions/{name}/{file}    report.html, timeline.json, mic.wav of a finished session

Every offer without a ``pc_id`` is a new session with its own processors, timeline and context
(several tabs, several sessions); the models are loaded once and shared. A session ends when the
page says so, or when its peer goes away (the page's data channel pings each second; Pipecat
drops a peer silent for 3 s), and then writes ``OUT/<name>/timeline.json`` and ``report.html``.
The browser's own echo cancellation, noise suppression and gain control are asked for by the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from loguru import logger
from pipecat.transports.base_transport import TransportParams

from agent.logs import about
from agent.media import SAMPLE_RATE
from agent.memory import give_back
from agent.models import Models
from agent.settings import Settings
from pipelines.live import Conversation, Responder

_FILES = {"report.html": "text/html", "timeline.json": "application/json", "mic.wav": "audio/wav"}
_END_WAIT_S = 20.0
_GONE_S = 5.0


@dataclass(frozen=True)
class WebOptions:
    """How ``agent web`` runs (see its --help)."""

    host: str
    port: int
    out: Path
    responder: Responder
    max_sessions: int = 4


@dataclass
class _Session:
    conversation: Conversation
    task: asyncio.Task[None] | None = None
    report: str | None = None
    error: str | None = None
    written: asyncio.Event = field(default_factory=asyncio.Event)


def page() -> str:
    """The demo page (one file, no build step)."""
    return files("pipelines").joinpath("web_page.html").read_text(encoding="utf-8")


def create_app(models: Models, settings: Settings, options: WebOptions) -> FastAPI:
    """The demo's FastAPI app (its ``state.sessions``: name -> session, finished ones included)."""
    from pipecat.transports.smallwebrtc.request_handler import (
        IceCandidate,
        SmallWebRTCPatchRequest,
        SmallWebRTCRequest,
        SmallWebRTCRequestHandler,
    )
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    app = FastAPI(title="agent web", docs_url=None, redoc_url=None, openapi_url=None)
    handler = SmallWebRTCRequestHandler()
    sessions: dict[str, _Session] = {}
    app.state.sessions = sessions
    params = TransportParams(
        audio_in_enabled=True,
        audio_out_enabled=True,
        audio_in_sample_rate=SAMPLE_RATE,
        audio_out_sample_rate=SAMPLE_RATE,
        audio_out_10ms_chunks=2,  # our 20 ms frames as they come
    )

    def active() -> int:
        return sum(1 for s in sessions.values() if not s.conversation.ended)

    async def run(session: _Session, transport: SmallWebRTCTransport, connection: Any) -> None:
        conversation = session.conversation
        with about(call=conversation.name):
            watchdog = asyncio.create_task(_watch(conversation, connection))
            try:
                await conversation.run(transport.input(), transport.output(), settings)
            except Exception as e:  # this session ends; the others go on
                session.error = f"{type(e).__name__}: {e}"
                logger.error(f"session {conversation.name} failed: {session.error}")
            finally:
                watchdog.cancel()
            try:
                # off the event loop: the report takes a while, and other sessions' audio flows on
                await asyncio.to_thread(conversation.write, options.out / conversation.name)
                session.report = f"/sessions/{conversation.name}/report.html"
            except OSError as e:
                session.error = session.error or f"could not write the session's files: {e}"
                logger.error(f"session {conversation.name}: {session.error}")
            finally:
                session.written.set()
                give_back()

    @app.get("/")
    async def index() -> HTMLResponse:
        return HTMLResponse(page())

    @app.post("/api/offer")
    async def offer(request: Request) -> JSONResponse:
        body = await _json_object(request)
        sdp, kind, pc_id = body.get("sdp"), body.get("type"), body.get("pc_id")
        scenario = body.get("scenario")
        if scenario is not None and not isinstance(scenario, str):
            raise HTTPException(400, "'scenario' must be a scenario's name")
        try:
            options.responder.make(settings, scenario)  # a bad scenario is the request's fault
        except ValueError as e:
            raise HTTPException(400, f"scenario {scenario!r}: {e}") from e
        if not isinstance(sdp, str) or kind != "offer":
            raise HTTPException(400, "expected {'sdp': '<SDP offer>', 'type': 'offer'}")
        if pc_id is None and active() >= options.max_sessions:
            raise HTTPException(503, f"{options.max_sessions} sessions are under way; try again later")
        started: list[str] = []

        async def connected(connection: Any) -> None:
            name = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
            conversation = Conversation.create(name, models, settings, options.responder, scenario)
            transport = SmallWebRTCTransport(connection, params)
            session = _Session(conversation)

            async def gone(_transport: object, _client: object) -> None:
                await conversation.end("the WebRTC connection closed")

            transport.add_event_handler("on_client_disconnected", gone)

            sessions[name] = session
            session.task = asyncio.create_task(run(session, transport, connection))
            started.append(name)

        request_ = SmallWebRTCRequest(sdp=sdp, type="offer", pc_id=pc_id if isinstance(pc_id, str) else None)
        try:
            answer = await handler.handle_web_request(request_, connected)
        except HTTPException:
            raise
        except Exception as e:  # aiortc's parser and state errors: the offer is at fault
            raise HTTPException(400, f"the offer was refused: {type(e).__name__}: {e}") from e
        if answer is None:
            raise HTTPException(500, "no SDP answer")
        return JSONResponse({**answer, "session": started[0] if started else None})

    @app.patch("/api/offer")
    async def candidates(request: Request) -> JSONResponse:
        body = await _json_object(request)
        try:
            patch = SmallWebRTCPatchRequest(
                pc_id=str(body["pc_id"]),
                candidates=[
                    IceCandidate(
                        str(c.get("candidate", "")), str(c.get("sdp_mid", "")), int(c["sdp_mline_index"])
                    )
                    for c in body.get("candidates", [])  # as Pipecat's clients send them
                ],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise HTTPException(400, f"expected {{'pc_id', 'candidates': [...]}}: {e}") from e
        await handler.handle_patch_request(patch)
        return JSONResponse({"status": "ok"})

    @app.get("/api/sessions/{name}")
    async def view(name: str) -> JSONResponse:
        session = _find(sessions, name)
        session.conversation.catch_up()
        return JSONResponse(
            {
                "session": name,
                "ended": session.conversation.ended,
                "report": session.report,
                "error": session.error,
                **session.conversation.status.as_dict(),
            }
        )

    @app.post("/api/sessions/{name}/end")
    async def end(name: str) -> JSONResponse:
        session = _find(sessions, name)
        await session.conversation.end("the page's End button")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.written.wait(), _END_WAIT_S)
        return JSONResponse({"session": name, "report": session.report, "error": session.error})

    @app.get("/sessions/{name}/{file}")
    async def session_file(name: str, file: str) -> FileResponse:
        session = _find(sessions, name)
        if file not in _FILES or session.report is None:
            raise HTTPException(404, "no such file (a session's files are written when it ends)")
        return FileResponse(options.out / name / file, media_type=_FILES[file])

    @app.on_event("shutdown")
    async def close() -> None:
        for session in sessions.values():
            await session.conversation.end("the server stopped")
        tasks = [s.task for s in sessions.values() if s.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=_END_WAIT_S)
        await handler.close()

    return app


async def _watch(conversation: Conversation, connection: Any) -> None:
    """Ends a session whose browser went away without saying so (a closed tab, a lost network):
    its audio stopped coming for ``_GONE_S`` of wall time, or Pipecat's connection says it is no
    longer connected (the page's pings stopped). A liveness check on the transport, not a turn
    decision: the conversation's own decisions stay on the media clock."""
    heard, since = -1, time.monotonic()
    while not conversation.ended:
        await asyncio.sleep(0.5)
        received = conversation.recorder.received
        if received != heard:
            heard, since = received, time.monotonic()
        gone = heard > 0 and not connection.is_connected()
        if gone or time.monotonic() - since > _GONE_S:
            why = "its connection closed" if gone else f"no audio for {_GONE_S:.0f} s"
            logger.info(f"session {conversation.name}: the browser went away ({why}); ending it")
            await conversation.end(f"the browser went away ({why})")
            return


def _find(sessions: dict[str, _Session], name: str) -> _Session:
    session = sessions.get(name)
    if session is None:
        raise HTTPException(404, f"no session {name!r}")
    return session


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as e:
        raise HTTPException(400, f"the body is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def serve(models: Models, settings: Settings, options: WebOptions) -> int:
    """Serve the demo until Ctrl-C or SIGTERM (exit code 0)."""
    app = create_app(models, settings, options)
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning")

    @app.on_event("startup")
    async def listening() -> None:
        print(
            f"agent web: open http://{options.host}:{options.port}/ in a browser "
            f"(sessions are written to {options.out}/)",
            flush=True,
        )

    server = uvicorn.Server(config)
    asyncio.run(server.serve())
    return 0 if server.started else 2
