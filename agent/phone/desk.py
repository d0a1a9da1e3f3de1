"""The phone server's front desk: which calls it takes, which streams it lets in, what it keeps.

Pure bookkeeping, no I/O: the webhook asks :meth:`CallDesk.admit` (a token, or None when every
line is taken or the server is draining); the websocket asks :meth:`CallDesk.open` with the
stream's ``start``; a finished call's timeline is kept for a while so that a caller can read the
server's side of its call (``GET /calls/{CallSid}``)::

    admit(C) ──token──► open(start) ──► call C under way ──► close(C, timeline) ──► kept (LRU)
        └── busy: active + on their way >= max_calls, or draining (SIGTERM)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from pydantic import BaseModel, Field

from agent.phone.protocol import ProtocolError, StreamStart, Tokens


class PhoneSettings(BaseModel):
    """The phone server's knobs."""

    greeting: str = Field(
        "Hello! How can I help you today?", description="what the bot says when it picks up"
    )
    busy_message: str = Field(
        "Sorry, all our lines are busy right now. Please call again in a few minutes.",
        description="said (then hang up) when every line is taken",
    )
    token_ttl_s: float = Field(30.0, gt=0, description="a stream must start this soon after the webhook (s)")
    start_timeout_s: float = Field(10.0, gt=0, description="a stream must send 'start' within this (s)")
    end_wait_s: float = Field(
        15.0, gt=0, description="after the caller hangs up, time to make the last words final (s)"
    )
    drain_s: float = Field(
        300.0, ge=0, description="on SIGTERM, calls under way may go on this long before the server quits (s)"
    )
    kept_calls: int = Field(50, ge=0, description="finished calls whose timelines are kept in memory")


class CallDesk:
    """Admission, one-time stream tokens, calls under way and recently finished calls."""

    def __init__(self, max_calls: int, settings: PhoneSettings) -> None:
        self.max_calls = max_calls
        self._settings = settings
        self._tokens = Tokens(settings.token_ttl_s)
        self._active: set[str] = set()
        self._finished: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.draining = False
        self.refused = 0

    @property
    def active(self) -> int:
        return len(self._active)

    def admit(self, call_sid: str, now: float) -> str | None:
        """A stream token for this call, or None when it cannot be taken (busy or draining)."""
        if self.draining or self.active + self._tokens.pending(now) >= self.max_calls:
            self.refused += 1
            return None
        return self._tokens.issue(call_sid, now)

    def open(self, start: StreamStart, now: float) -> None:
        """Let a stream in (ProtocolError if its token is missing, unknown, spent or expired)."""
        token = start.parameters.get("token", "")
        if not token or not self._tokens.redeem(token, start.call_sid, now):
            raise ProtocolError(f"stream {start.stream_sid}: no valid token for call {start.call_sid}")
        self._active.add(start.call_sid)

    def close(self, call_sid: str, record: dict[str, Any]) -> None:
        """The call ended; keep its record (the oldest go first)."""
        self._active.discard(call_sid)
        self._finished[call_sid] = record
        while len(self._finished) > self._settings.kept_calls:
            self._finished.popitem(last=False)

    def record(self, call_sid: str) -> dict[str, Any] | None:
        return self._finished.get(call_sid)

    def health(self, now: float) -> dict[str, Any]:
        return {
            "status": "draining" if self.draining else "ok",
            "calls": self.active,
            "on_their_way": self._tokens.pending(now),
            "max_calls": self.max_calls,
            "refused": self.refused,
        }
