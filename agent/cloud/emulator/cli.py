"""``agent emulate PROVIDER``: a cloud STT protocol served on loopback from the local models."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from agent.cloud.emulator.faults import Faults, parse_range

PROVIDERS = ("assemblyai", "deepgram-nova", "deepgram-flux")


def add_parser(sub: Any) -> None:
    e = sub.add_parser("emulate", help="serve a cloud STT provider's websocket protocol offline")
    e.add_argument("provider", choices=PROVIDERS, help="which provider's protocol")
    e.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback)")
    e.add_argument("--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)")
    e.add_argument("--api-key", help="accept only this key (default: any)")
    e.add_argument(
        "--drop-every",
        metavar="MIN-MAX",
        help="drop the connection MIN..MAX s (wall clock) into every session",
    )
    e.add_argument("--drop-at", type=float, metavar="S", help="drop the connection once, at S s of audio")
    e.add_argument(
        "--drop-on-close", action="store_true", help="drop the connection once, when the client asks to close"
    )
    e.add_argument("--stall-at", type=float, metavar="S", help="stop answering at S s of audio")
    e.add_argument("--delay-ms", type=float, default=0.0, metavar="N", help="delay every message by N ms")
    e.add_argument("--error-at", type=float, metavar="S", help="send the provider's error at S s and close")
    e.add_argument("--seed", type=int, default=0, help="seed for the random drop times")


def emulate(args: argparse.Namespace) -> int:
    try:
        faults = Faults(
            drop_every=parse_range(args.drop_every) if args.drop_every else None,
            drop_at=args.drop_at,
            drop_on_close=args.drop_on_close,
            stall_at=args.stall_at,
            delay_ms=args.delay_ms,
            error_at=args.error_at,
            seed=args.seed,
        )
    except ValueError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(args, faults))
    except KeyboardInterrupt:
        return 0
    except OSError as e:
        print(f"agent: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


async def _serve(args: argparse.Namespace, faults: Faults) -> None:
    from websockets.asyncio.server import serve

    from agent.models import Models
    from agent.settings import Settings

    settings = Settings()
    models = Models.load(settings)
    if args.provider == "assemblyai":
        from agent.cloud.emulator.assemblyai import AssemblyAIEmulator

        emulator: Any = AssemblyAIEmulator(models, settings, faults, args.api_key)
        path, hint = "/v3/ws", "the AssemblyAI SDK's api_host"
        process_request = None
    elif args.provider == "deepgram-nova":
        from agent.cloud.emulator.deepgram_nova import DeepgramEmulator

        emulator = DeepgramEmulator(models, settings, faults, args.api_key)
        path, hint = "/v1/listen", "the Deepgram SDK's environment (production)"
        process_request = emulator.process_request
    else:
        from agent.cloud.emulator.deepgram_flux import flux_emulator

        emulator = flux_emulator(models, settings, faults, args.api_key)
        path, hint = "/v2/listen", "the Deepgram SDK's environment (production)"
        process_request = emulator.process_request
    async with serve(emulator.handle, args.host, args.port, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"{args.provider} emulator on ws://{args.host}:{port}{path} ({hint}: ws://{args.host}:{port})")
        await server.serve_forever()
