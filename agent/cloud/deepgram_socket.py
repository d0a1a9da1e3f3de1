"""What Deepgram's two streaming APIs share in the official SDK: the client pointed at a base URL,
the socket's lifetime, and the read loop. Nova-3 and Flux subclass :class:`DeepgramSession` with
their connection parameters and message handling.

- The base URL goes through ``DeepgramClientEnvironment`` (how tests point the SDK at an
  emulator); the key goes in ``Authorization: Token …`` (the SDK does it).
- A rejected key is an HTTP 401/403 at the handshake: fatal, no retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, Literal

from agent.cloud.provider import CloudClosed, CloudEvent, ProviderError

DEFAULT_URL = "wss://api.deepgram.com"


def api_key() -> str | None:
    return os.environ.get("DEEPGRAM_API_KEY")


class DeepgramSession:
    """One Deepgram socket; subclasses give :meth:`open` (the SDK's connect) and :meth:`take`."""

    name = "deepgram"
    label = "Deepgram"
    path = "/v1/listen"
    clock: Literal["session", "media"] = "session"
    finals_at_turn_end = False
    finish_s = 10.0
    """How long :meth:`close` waits for the server to finish (s)."""

    def __init__(self, url: str | None = None, key: str | None = None) -> None:
        self._url = (url or DEFAULT_URL).rstrip("/").removesuffix(self.path)
        self._key = key if key is not None else api_key()
        self.events: asyncio.Queue[CloudEvent] = asyncio.Queue()
        self._context: Any = None
        self._socket: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    def open(self, client: Any) -> Any:
        """The SDK's ``connect(...)`` context manager for this API."""
        raise NotImplementedError

    async def take(self, message: Any) -> None:
        """Turn one SDK message into events."""
        raise NotImplementedError

    async def connect(self) -> None:
        from deepgram import AsyncDeepgramClient
        from deepgram.environment import DeepgramClientEnvironment

        if not self._key and self._url == DEFAULT_URL:
            raise ProviderError("Deepgram needs DEEPGRAM_API_KEY (or --stt-url for an emulator)", True)
        http = self._url.replace("wss://", "https://").replace("ws://", "http://")
        env = DeepgramClientEnvironment(base=http, production=self._url, agent=self._url, agent_rest=http)
        self._context = self.open(AsyncDeepgramClient(api_key=self._key or "none", environment=env))
        try:
            self._socket = await self._context.__aenter__()
        except Exception as e:  # the SDK's ApiError (its status_code: 401 on a bad key) or websockets'
            status = getattr(e, "status_code", None)
            if status in (401, 403):
                body = getattr(e, "body", None)
                message = f"{self.label} rejected the API key (HTTP {status}{f': {body}' if body else ''})"
                raise ProviderError(message + ": check DEEPGRAM_API_KEY", True) from None
            detail = f"HTTP {status}" if status else (str(e).splitlines()[0] if str(e) else "")
            message = f"{self.label} connect to {self._url} failed: {type(e).__name__}"
            raise ProviderError(message + (f" ({detail})" if detail else ""), False) from None
        self._tasks = [asyncio.create_task(self._read()), *self.background()]

    def background(self) -> list[asyncio.Task[None]]:
        """Extra tasks for the session's life (Nova's KeepAlive)."""
        return []

    def advance(self, t: float) -> None:
        return None  # a live session runs on its own

    async def send(self, pcm: bytes) -> None:
        if self._socket is not None:
            await self._socket.send_media(pcm)

    async def close(self) -> None:
        """``CloseStream``, then wait (up to ``finish_s``) for the server to send the results of
        the audio it still holds and close the socket: those are the call's last finals."""
        socket, self._socket = self._socket, None
        try:
            if socket is not None:
                with contextlib.suppress(Exception):
                    await socket.send_close_stream()
                    if self._tasks:  # the reader ends when the server closes
                        await asyncio.wait(self._tasks[:1], timeout=self.finish_s)
        finally:  # cancelled by a caller's own bound too
            for task in self._tasks:
                task.cancel()
            if self._context is not None:
                context, self._context = self._context, None
                with contextlib.suppress(Exception):
                    await context.__aexit__(None, None, None)

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                await self.take(message)
        except Exception as e:  # the socket broke
            await self.events.put(CloudClosed(f"{self.label}: connection lost ({type(e).__name__})"))
            return
        await self.events.put(CloudClosed(f"{self.label}: session closed", clean=True))
