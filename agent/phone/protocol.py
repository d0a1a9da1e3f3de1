"""Twilio Media Streams, the server's side of the rules: what a stream must say before it is a call.

A call reaches us in two steps: Twilio POSTs the voice webhook (answered with TwiML naming our
stream URL and a one-time token), then opens a websocket to that URL::

    Twilio ── POST /twiml (signed) ──► webhook: token T issued for CallSid C
    Twilio ── WS /ws ──► {"event": "connected"} {"event": "start", "start": {..., "customParameters":
                         {"token": T}}} {"event": "media"} ... {"event": "stop"}

A stream is taken only if its ``start`` carries a token issued by the webhook, not used before
and not expired; anything other than ``connected`` before ``start`` ends it. Pure: times are
passed in (the token clock is the wall clock, which is about security, never about turns).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any


class ProtocolError(ValueError):
    """A stream broke the protocol (one line: what and where)."""


@dataclass(frozen=True)
class StreamStart:
    """The ``start`` message of a Media Stream."""

    stream_sid: str
    call_sid: str
    account_sid: str
    parameters: dict[str, str]
    encoding: str
    sample_rate: int


def decode(data: str | bytes) -> dict[str, Any]:
    """One websocket message as a JSON object with an ``event`` (ProtocolError otherwise)."""
    if isinstance(data, bytes):
        raise ProtocolError(f"binary message of {len(data)} bytes: Media Streams messages are JSON text")
    try:
        message = json.loads(data)
    except json.JSONDecodeError as e:
        raise ProtocolError(f"message is not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise ProtocolError("message has no 'event'")
    return message


def parse_start(message: dict[str, Any]) -> StreamStart:
    """The stream's ``start`` (ProtocolError naming the missing or bad field)."""
    if message.get("event") != "start":
        raise ProtocolError(f"expected 'start', got {message.get('event')!r}")
    start = message.get("start")
    if not isinstance(start, dict):
        raise ProtocolError("'start' message has no 'start' object")
    fields = {}
    for key in ("streamSid", "callSid", "accountSid"):
        value = start.get(key, message.get(key) if key == "streamSid" else None)
        if not isinstance(value, str) or not value:
            raise ProtocolError(f"'start' message has no {key}")
        fields[key] = value
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("'start.customParameters' is not an object")
    media = start.get("mediaFormat") or {}
    encoding = str(media.get("encoding", "audio/x-mulaw"))
    rate = media.get("sampleRate", 8000)
    if encoding != "audio/x-mulaw" or rate != 8000:
        raise ProtocolError(f"media format {encoding} at {rate} Hz: expected audio/x-mulaw at 8000 Hz")
    return StreamStart(
        stream_sid=fields["streamSid"],
        call_sid=fields["callSid"],
        account_sid=fields["accountSid"],
        parameters={str(k): str(v) for k, v in params.items()},
        encoding=encoding,
        sample_rate=8000,
    )


@dataclass
class Tokens:
    """One-time stream tokens issued by the webhook: valid for ``ttl_s``, for one stream."""

    ttl_s: float = 60.0
    _issued: dict[str, tuple[str, float]] = field(default_factory=dict)  # token -> (call, expiry)

    def issue(self, call_sid: str, now: float) -> str:
        self._expire(now)
        token = secrets.token_urlsafe(24)
        self._issued[token] = (call_sid, now + self.ttl_s)
        return token

    def redeem(self, token: str, call_sid: str, now: float) -> bool:
        """True (and the token is spent) if it was issued for this call and is still valid."""
        self._expire(now)
        issued = self._issued.get(token)
        if issued is None or not secrets.compare_digest(issued[0], call_sid):
            return False
        del self._issued[token]
        return True

    def pending(self, now: float) -> int:
        """Tokens issued and not yet used (calls on their way to the stream)."""
        self._expire(now)
        return len(self._issued)

    def _expire(self, now: float) -> None:
        for token in [t for t, (_, expiry) in self._issued.items() if expiry <= now]:
            del self._issued[token]
