"""The ``agent`` command: the top of the house (it composes ``agent/`` and ``pipelines/``).

``agent replay PATH [--out DIR] [--realtime]`` replays one scenario file or every scenario in a
folder. Exit codes: 0 all expectations held, 1 an expectation failed, 2 bad input or a failure
(one line on stderr saying what and where; the other scenarios still run and are reported).
``agent serve`` answers phone calls (Twilio Media Streams); ``agent call`` places them.
"""

from __future__ import annotations

import argparse
import os
import sys

from agent import logs
from agent.options import apply_options, apply_stt, live_provider, writable_file, writable_folder
from pipelines.parsers import build_parser


def main(argv: list[str] | None = None) -> int:
    """Runs one command; its exit code. Ctrl-C (also while models load) exits 130 with one line."""
    args = build_parser().parse_args(argv)
    logs.setup(args.log_format, getattr(args, "verbose", False))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub
    try:
        _check_outputs(args)
    except ValueError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("agent: interrupted", file=sys.stderr)
        return 130


def _check_outputs(args: argparse.Namespace) -> None:
    """Where a command will write (``--out``, ``--json``), checked before any work is done."""
    if getattr(args, "json", None) is not None:
        writable_file(args.json, "--json")
    out = getattr(args, "out", None)
    if out is not None:
        if args.command == "room-tone":  # a WAV file; every other --out is a folder
            writable_file(out, "--out")
        else:
            writable_folder(out)


def _run(args: argparse.Namespace) -> int:
    if args.command == "replay":
        return _replay(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "room-tone":
        return _room_tone(args)
    if args.command in ("web", "mic"):
        from pipelines.live_cli import live

        return live(args)
    if args.command == "call":
        from agent.phone.call_cli import call

        return call(args)
    if args.command == "eot-eval":
        from agent.eot.cli import eot_eval

        return eot_eval(args)
    if args.command == "emulate":
        from agent.cloud.emulator.cli import emulate

        return emulate(args)
    if args.command == "compare":
        from agent.compare import compare

        return compare(args)
    if args.command == "bench":
        from agent.bench.cli import (
            bench_asr,
            bench_emulator_soak,
            bench_phone_load,
            bench_pipeline,
            bench_stt_faults,
            bench_web,
        )

        if args.bench == "web":
            return bench_web(args)
        if args.bench == "emulator-soak":
            return bench_emulator_soak(args)
        if args.bench == "pipeline":
            return bench_pipeline(args)
        if args.bench == "phone-load":
            return bench_phone_load(args)
        return bench_stt_faults(args) if args.bench == "stt-faults" else bench_asr(args)
    return 2


def _room_tone(args: argparse.Namespace) -> int:
    import soundfile as sf

    from agent.media import SAMPLE_RATE
    from agent.replay.background import room_tone

    try:
        tone = room_tone([str(p) for p in args.audio])
        sf.write(args.out, tone, SAMPLE_RATE)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"agent room-tone: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(tone) / SAMPLE_RATE:.1f} s of room tone from {len(args.audio)} recordings")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from agent.llm.openai_compatible import openai_configured
    from agent.settings import Settings, with_overrides

    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    problem = None
    if not token:
        problem = "set TWILIO_AUTH_TOKEN (the auth token of the Twilio account whose calls this server takes)"
    elif args.max_calls < 1:
        problem = f"--max-calls must be at least 1, got {args.max_calls}"
    elif not 0 < args.port < 65536:
        problem = f"--port must be 1-65535, got {args.port}"
    elif args.scripted_replies is not None and not args.scripted_replies.is_dir():
        problem = f"--scripted-replies {args.scripted_replies}: not a folder"
    elif args.llm == "openai" and not openai_configured():
        problem = "--llm openai needs OPENAI_API_KEY or OPENAI_BASE_URL"
    elif args.public_url and not args.public_url.startswith(("http://", "https://")):
        problem = f"--public-url must be http(s)://..., got {args.public_url!r}"
    elif args.stream_url and not args.stream_url.startswith(("ws://", "wss://")):
        problem = f"--stream-url must be ws(s)://..., got {args.stream_url!r}"
    try:
        settings = apply_stt(with_overrides(Settings(), args.set), args)
    except ValueError as e:
        problem = problem or str(e)
    if problem is None and settings.asr != "streaming" and settings.stt == "local":
        problem = "live calls need the streaming recogniser (asr=streaming)"
    if problem is not None:
        print(f"agent serve: {problem}", file=sys.stderr)
        return 2
    from agent.models import Models
    from pipelines.phone import ServeOptions, serve

    llm = "openai" if args.llm == "openai" or (args.llm == "auto" and openai_configured()) else "echo"
    options = ServeOptions(
        host=args.host,
        port=args.port,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        auth_token=token,
        max_calls=args.max_calls,
        llm=llm,
        scripted_replies=args.scripted_replies,
        out=args.out,
        stream_url=args.stream_url,
    )
    return serve(Models.load(settings), settings, options)


def _replay(args: argparse.Namespace) -> int:
    from agent.replay.batch import run_replay
    from agent.replay.scenario import find_scenarios
    from agent.settings import Settings, with_overrides

    try:
        settings = apply_stt(with_overrides(Settings(), args.set), args)
        settings = apply_options(
            settings,
            [
                ("--chunk-ms", "replay.chunk_ms", args.chunk_ms),
                ("--asr", "asr", args.asr),
                ("--detector", "detector", args.detector),
            ],
        )
    except ValueError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    from agent.llm.openai_compatible import openai_configured

    llm = args.llm
    if llm == "auto":
        llm = "openai" if openai_configured() else "scripted"
    if llm == "openai" and not openai_configured():
        print("agent: --llm openai needs OPENAI_API_KEY or OPENAI_BASE_URL", file=sys.stderr)
        return 2
    try:
        paths = find_scenarios(args.path)
        realtime = args.realtime or live_provider(settings)
        summary = run_replay(paths, args.out, settings, llm, realtime, args.allow_outside_audio)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    o = summary["overall"]
    if o["interrupted"]:
        print(
            f"agent: interrupted; {args.out}/summary.json holds the {len(summary['scenarios'])} "
            f"scenarios finished (not run: {', '.join(o['not_run'])})",
            file=sys.stderr,
        )
        return 130
    if not summary["scenarios"]:
        for error in o["errors"]:
            print(f"agent: {error}", file=sys.stderr)
        return 2
    print(
        f"{len(summary['scenarios'])} scenarios, {o['audio_seconds']:.1f} s of audio in "
        f"{o['wall_seconds']:.1f} s ({o['speedup']}x real time). "
        f"End-of-turn p50 {o['eot_latency_ms']['p50']} ms, p95 {o['eot_latency_ms']['p95']} ms; "
        f"voice-to-voice p50 {o['voice_to_voice_ms']['p50']} ms, p95 {o['voice_to_voice_ms']['p95']} ms; "
        f"premature cutoffs {o['premature_cutoffs']}, missed turns {o['missed_turns']}; "
        f"barge-in stop p50 {o['barge_in_stop_ms']['p50']} ms, p95 {o['barge_in_stop_ms']['p95']} ms, "
        f"false {o['false_barge_ins']}, missed {o['missed_barge_ins']}, "
        f"resumed {o['resumed_after_false_alarm']}. "
        f"Report: {args.out}/<scenario>/report.html"
    )
    for failure in o["expectations_failed"]:
        print(f"expectation failed: {failure}", file=sys.stderr)
    for error in o["errors"]:
        print(f"agent: {error}", file=sys.stderr)
    if o["errors"]:
        return 2
    return 1 if o["expectations_failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
