"""The agent's log: plain lines by default, one JSON object per line with ``--log-format json``.

Every record names what it belongs to when that is known (``scenario`` during a replay, ``call``
during a phone call: :func:`about`), and no record carries a secret: the values of the keys and
tokens the agent reads from the environment are replaced by ``***`` before any sink sees them::

    {"time": "2026-12-05T14:40:00.123Z", "level": "WARNING", "message": "...", "call": "CA12..."}

Pipecat's own records are left out unless ``verbose`` (what goes wrong reaches the user as our
one line; with ``-v`` they are all there, at DEBUG).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, Literal

from loguru import logger

SECRETS = ("DEEPGRAM_API_KEY", "ASSEMBLYAI_API_KEY", "OPENAI_API_KEY", "TWILIO_AUTH_TOKEN")
"""Environment variables whose values never reach a log."""

LogFormat = Literal["text", "json"]


def setup(log_format: LogFormat = "text", verbose: bool = False) -> None:
    """Route the log to stderr in ``log_format`` (replacing any earlier setup)."""
    logger.remove()
    logger.configure(patcher=_redact)
    sink = _json_line if log_format == "json" else _text
    logger.add(
        sink, level="DEBUG" if verbose else "WARNING", filter=None if verbose else _ours, format="{message}"
    )


@contextmanager
def about(**names: str) -> Iterator[None]:
    """Records made inside name what they belong to, e.g. ``about(scenario="03_hesitation")``."""
    with logger.contextualize(**names):
        yield


def _ours(record: Any) -> bool:
    return not str(record["name"]).startswith("pipecat")


def _redact(record: Any) -> None:
    for name in SECRETS:
        secret = os.environ.get(name, "")
        if len(secret) >= 4 and secret in record["message"]:
            record["message"] = record["message"].replace(secret, "***")


def _text(message: Any) -> None:
    record = message.record
    names = " ".join(f"{k}={v}" for k, v in record["extra"].items())
    stamp = record["time"].strftime("%H:%M:%S.%f")[:-3]
    sys.stderr.write(f"{stamp} {record['level'].name} {names + ': ' if names else ''}{record['message']}\n")


def _json_line(message: Any) -> None:
    record = message.record
    out = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record["level"].name,
        "message": record["message"],
        "module": record["name"],
        **{k: str(v) for k, v in record["extra"].items()},
    }
    if record["exception"] is not None:
        out["exception"] = f"{record['exception'].type.__name__}: {record['exception'].value}"
    sys.stderr.write(json.dumps(out) + "\n")
