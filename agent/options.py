"""Command-line options shared by several commands: ``--set``, ``--stt``, ``--stt-url``, ``--record-tape``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
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


_STT = ("local", "assemblyai", "deepgram-nova", "deepgram-flux")
_KEYS = {
    "assemblyai": "ASSEMBLYAI_API_KEY",
    "deepgram-nova": "DEEPGRAM_API_KEY",
    "deepgram-flux": "DEEPGRAM_API_KEY",
}


def apply_stt(settings: Settings, args: argparse.Namespace) -> Settings:
    """``--stt`` / ``--stt-url`` / ``--record-tape`` onto the settings (ValueError, one line
    naming the option)."""
    stt = args.stt
    if stt is not None:
        if stt not in _STT and not stt.startswith("tape:"):
            raise ValueError(f"--stt {stt}: expected {', '.join(_STT)} or tape:FILE")
        tape = Path(stt.removeprefix("tape:"))
        if stt.startswith("tape:") and not tape.is_file():
            raise ValueError(f"--stt {stt}: tape file not found: {tape}")
    settings = apply_options(
        settings,
        [
            ("--stt", "stt", stt),
            ("--stt-url", "stt_url", args.stt_url),
            ("--record-tape", "record_tape", args.record_tape),
        ],
    )
    if settings.record_tape and settings.stt in ("local",):
        raise ValueError("--record-tape records a cloud recogniser: add --stt assemblyai")
    key = _KEYS.get(settings.stt)
    if key and not settings.stt_url and not os.environ.get(key):
        raise ValueError(f"--stt {settings.stt} needs {key} (or --stt-url for an emulator)")
    return settings


def apply_options(settings: Settings, options: list[tuple[str, str, object]]) -> Settings:
    """Command-line options onto settings: each ``(option, setting, value)`` with a value that is
    not None; a bad value raises ValueError naming the option (``--chunk-ms 0: ...``)."""
    from agent.settings import with_overrides

    for option, key, value in options:
        if value is None:
            continue
        try:
            settings = with_overrides(settings, [f"{key}={json.dumps(value)}"])
        except ValueError as e:
            reason = str(e).rsplit(": ", 1)[-1]
            raise ValueError(f"{option} {value}: {reason}") from None
    return settings


def writable_file(path: Path, option: str) -> Path:
    """``path`` can be written as a file: not a folder, its folder made and writable (ValueError
    naming the option otherwise)."""
    if path.is_dir():
        raise ValueError(f"{option} {path}: is a folder, not a file")
    writable_folder(path.parent, option, shown=path)
    return path


def writable_folder(path: Path, option: str = "--out", shown: Path | None = None) -> Path:
    """``path`` made (with its parents) and checked writable, before any work is done; ValueError
    naming the option otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(f"{option} {shown or path}: cannot write there ({e.strerror or e})") from None
    return path


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
