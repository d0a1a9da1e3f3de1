"""TwiML both ways, and Twilio's request signature, through the official ``twilio`` package.

The webhook answers a call with ``<Connect><Stream>`` (a bidirectional Media Stream to our
websocket, with a one-time token as a custom parameter) or, when it cannot take the call, a
polite ``<Say>`` and ``<Hangup/>``. The caller side (``agent call``) reads that TwiML back the way
Twilio does, and signs its webhook request the way Twilio signs it: HMAC-SHA1 over the full URL
and the sorted POST parameters, keyed with the account's auth token, base64, in
``X-Twilio-Signature``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, Stream, VoiceResponse


def stream_answer(ws_url: str, parameters: dict[str, str]) -> str:
    """TwiML connecting the call to a bidirectional Media Stream at ``ws_url``."""
    stream = Stream(url=ws_url)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    connect = Connect()
    connect.append(stream)
    response = VoiceResponse()
    response.append(connect)
    return str(response)


def busy_answer(message: str) -> str:
    """TwiML that says ``message`` and hangs up (no line free)."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response)


def websocket_url(public_url: str, path: str) -> str:
    """The ``wss://`` (or, for a plain-http URL, ``ws://``) address of ``path`` on the public URL."""
    parts = urlsplit(public_url.rstrip("/"))
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio sends with a request to ``url`` with ``params``."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


def signed(auth_token: str, url: str, params: dict[str, str], given: str | None) -> bool:
    """True when ``given`` is Twilio's signature of this request (constant-time comparison)."""
    return bool(given) and bool(RequestValidator(auth_token).validate(url, params, given))


@dataclass(frozen=True)
class Answer:
    """What a TwiML answer asks for: a stream (its URL and parameters) or words and a hang-up."""

    stream_url: str | None
    parameters: dict[str, str]
    said: str
    hangup: bool


def read_answer(twiml: str) -> Answer:
    """Read TwiML the way Twilio does for these verbs (ValueError if it is not TwiML)."""
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as e:
        raise ValueError(f"the webhook's answer is not XML: {e}") from None
    if root.tag != "Response":
        raise ValueError(f"the webhook's answer is <{root.tag}>, not TwiML's <Response>")
    stream = root.find("./Connect/Stream")
    params = {}
    if stream is not None:
        params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return Answer(
        stream_url=stream.get("url") if stream is not None else None,
        parameters=params,
        said=" ".join(s.text or "" for s in root.findall("Say")).strip(),
        hangup=root.find("Hangup") is not None,
    )
