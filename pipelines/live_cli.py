"""``agent web`` and ``agent mic``: their options checked (one line, exit 2) before a model loads."""

from __future__ import annotations

import argparse
import socket
import sys

from agent.options import apply_stt
from pipelines.live import Responder


def responder(args: argparse.Namespace) -> Responder:
    """Who answers, from ``--llm`` / ``--scripted-replies`` / ``--greeting`` (ValueError)."""
    from agent.llm.openai_compatible import openai_configured

    greeting = args.greeting or None
    if args.scripted_replies is not None:
        if args.scripted_replies.is_dir():  # a session names its scenario (the page's ?scenario=NAME)
            return Responder("scripted", args.scripted_replies, greeting=greeting)
        if not args.scripted_replies.is_file():
            raise ValueError(f"--scripted-replies {args.scripted_replies}: no such scenario file or folder")
        from agent.replay.scenario import load_scenario

        load_scenario(args.scripted_replies)  # a malformed scenario says so now, not mid-session
        return Responder("scripted", args.scripted_replies)
    if args.llm == "openai" and not openai_configured():
        raise ValueError("--llm openai needs OPENAI_API_KEY or OPENAI_BASE_URL")
    kind = "openai" if args.llm == "openai" or (args.llm == "auto" and openai_configured()) else "echo"
    return Responder(kind, greeting=greeting)


def live(args: argparse.Namespace) -> int:
    """Runs ``agent web`` or ``agent mic``; its exit code."""
    from agent.settings import Settings, with_overrides

    if args.command == "mic" and args.list_devices:
        return _list_devices()
    try:
        if args.command == "web" and not 0 < args.port < 65536:
            raise ValueError(f"--port must be 1-65535, got {args.port}")
        if args.command == "web" and args.max_sessions < 1:
            raise ValueError(f"--max-sessions must be at least 1, got {args.max_sessions}")
        if args.command == "web":
            _can_listen(args.host, args.port)
        settings = apply_stt(with_overrides(Settings(), args.set), args)
        if settings.asr != "streaming" and settings.stt == "local":
            raise ValueError("talking live needs the streaming recogniser (asr=streaming)")
        answers = responder(args)
    except ValueError as e:
        print(f"agent {args.command}: {e}", file=sys.stderr)
        return 2
    if args.command == "mic":
        from pipelines.mic import portaudio_or_hint

        problem = portaudio_or_hint()
        if problem is not None:
            print(f"agent mic: {problem}", file=sys.stderr)
            return 2
    from agent.models import Models

    models = Models.load(settings)
    if args.command == "mic":
        from pipelines.mic import MicOptions, talk

        return talk(models, settings, MicOptions(args.input_device, args.output_device, args.out, answers))
    from pipelines.web import WebOptions, serve

    options = WebOptions(args.host, args.port, args.out, answers, args.max_sessions)
    return serve(models, settings, options)


def _list_devices() -> int:
    from pipelines.mic import list_devices, portaudio_or_hint

    problem = portaudio_or_hint()
    if problem is not None:
        print(f"agent mic: {problem}", file=sys.stderr)
        return 2
    print(list_devices())
    return 0


def _can_listen(host: str, port: int) -> None:
    """ValueError naming ``--port`` / ``--host`` when this process could not listen there."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ValueError(f"--host {host}: {e.strerror or e}") from e
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as e:
            raise ValueError(f"--port {port}: cannot listen on {host}:{port} ({e.strerror or e})") from e
