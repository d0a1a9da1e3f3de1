"""Command-line options shared by several commands: ``--set``, ``--stt``, ``--stt-url``, ``--record-tape``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.settings import Settings


def add_stt_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stt",
        metavar="local|assemblyai|deepgram-nova|deepgram-flux|tape:FILE",
        help="recogniser: local Whisper (default), a cloud provider (its key from the environment), "
        "or a tape recorded from one",
    )
    parser.add_argument("--stt-url", help="the provider's websocket URL, e.g. an `agent emulate` server")
    parser.add_argument("--record-tape", metavar="FILE", help="with a cloud --stt: record its events here")


def apply_stt(settings: Settings, args: argparse.Namespace) -> Settings:
    """``--stt`` / ``--stt-url`` / ``--record-tape`` onto the settings (ValueError, one line)."""
    from agent.settings import with_overrides

    changes = [
        f"{key}={value}"
        for key, value in (("stt", args.stt), ("stt_url", args.stt_url), ("record_tape", args.record_tape))
        if value
    ]
    settings = with_overrides(settings, changes)
    if settings.record_tape and settings.stt in ("local",):
        raise ValueError("--record-tape records a cloud recogniser: add --stt assemblyai")
    return settings


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change one setting, e.g. --set streaming.settle_s=0.4 (repeatable)",
    )


def live_provider(settings: Settings) -> bool:
    """True when the recogniser is a live cloud session: it answers in real time, so a replay
    must be paced in real time too (a tape need not be)."""
    live = settings.stt not in ("local",) and not settings.stt.startswith("tape:")
    if live:
        print("agent: a live recogniser answers in real time; pacing the replay to match", file=sys.stderr)
    return live
