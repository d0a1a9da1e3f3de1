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
from pathlib import Path
from typing import Any

from loguru import logger

from agent.options import add_set_option, add_stt_options, apply_stt, live_provider


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent", description="Turn-taking for voice agents.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("replay", help="replay scripted scenarios offline and write a report")
    r.add_argument("path", type=Path, help="a scenario file or a folder of them")
    r.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    r.add_argument("--realtime", action="store_true", help="pace the replay at real time")
    r.add_argument(
        "--llm",
        choices=["auto", "scripted", "openai"],
        default="scripted",
        help="reply source: the scenario's scripted lines (default), an OpenAI-compatible "
        "server (OPENAI_API_KEY / OPENAI_BASE_URL), or auto (openai when configured)",
    )
    r.add_argument("--chunk-ms", type=int, default=None, help="microphone chunk per tick (ms)")
    r.add_argument(
        "--asr",
        choices=["streaming", "segment"],
        default=None,
        help="local recogniser: streaming Whisper with LocalAgreement-2 (default) or one pass per segment",
    )
    r.add_argument(
        "--detector",
        choices=["hybrid", "smart-turn", "silence", "native"],
        default=None,
        help="end-of-turn detector the pipeline acts on (native: the cloud --stt's own)",
    )
    add_stt_options(r)
    add_set_option(r)
    r.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")

    b = sub.add_parser("bench", help="benchmarks that print and write JSON figures")
    bsub = b.add_subparsers(dest="bench", required=True)
    a = bsub.add_parser("asr", help="streaming ASR: WER vs batch, final latency, speed, memory")
    a.add_argument("audio", type=Path, nargs="+", help="audio files")
    a.add_argument("--ref", help="reference text of a single file (default: a .txt beside it)")
    a.add_argument("--json", type=Path, help="write the figures here")
    a.add_argument("--chunk-s", type=float, help="decode every this much new audio (s)")
    a.add_argument("--loop-minutes", type=float, help="soak: stream the files repeated this long")
    add_set_option(a)
    a.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")
    f = bsub.add_parser("stt-faults", help="cloud STT through its emulator with drops and a stall")
    f.add_argument("scenarios", type=Path, nargs="+", help="scenario files")
    f.add_argument(
        "--provider", choices=["assemblyai", "deepgram-nova", "deepgram-flux"], default="assemblyai"
    )
    f.add_argument("--runs", type=int, default=3, help="replays with drops per scenario (plus one stall)")
    f.add_argument(
        "--drop-every",
        default="5-10",
        metavar="MIN-MAX",
        help="wall seconds from a session's start to its drop",
    )
    f.add_argument("--stall-at", type=float, default=3.0, metavar="S", help="the stall run stalls here (s)")
    f.add_argument("--json", type=Path, help="write the figures here")
    f.add_argument(
        "--timelines",
        type=Path,
        metavar="DIR",
        help="keep the timelines of fault-free runs and of runs that differ",
    )
    load = bsub.add_parser("phone-load", help="calls at once against agent serve: latency, CPU, memory")
    load.add_argument(
        "--scenario",
        type=Path,
        default=Path("scenarios/01_plain_qa.yaml"),
        help="the scenario each call plays",
    )
    load.add_argument("--calls", default="1,2,4", help="numbers of calls at once, e.g. 1,2,4 (default)")
    load.add_argument(
        "--stt", choices=["local", "deepgram-flux"], default="local", help="the server's recogniser"
    )
    load.add_argument(
        "--out", type=Path, default=Path("out-load"), help="the calls' reports (default: out-load)"
    )
    load.add_argument("--json", type=Path, help="write the figures here")
    load.add_argument(
        "--together",
        action="store_true",
        help="start each run's calls at the same instant (default: spread over one call's length)",
    )
    add_set_option(load)
    pb = bsub.add_parser("pipeline", help="compute per audio second, stage by stage, against an older commit")
    pb.add_argument("scenarios", type=Path, nargs="*", default=[Path("scenarios")], help="files or folders")
    pb.add_argument("--baseline", metavar="GIT_REF", help="also replay them with this commit, first")
    pb.add_argument("--json", type=Path, help="write the figures here")
    add_set_option(pb)
    from agent.cloud.emulator.cli import add_parser as add_emulate
    from agent.compare import add_parser as add_compare
    from agent.eot.cli import add_parser
    from agent.phone.call_cli import add_parser as add_call

    add_parser(sub)
    add_compare(sub)
    add_emulate(sub)
    _add_serve(sub)
    add_call(sub)
    t = sub.add_parser(
        "room-tone", help="cut a room's background out of recordings, for a scenario's noise floor"
    )
    t.add_argument("audio", type=Path, nargs="+", help="recordings of the room (speech and all)")
    t.add_argument("--out", type=Path, required=True, help="the room tone (WAV, 16 kHz)")
    return p


def _add_serve(sub: Any) -> None:
    s = sub.add_parser("serve", help="answer phone calls: a Twilio voice webhook and Media Streams server")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    s.add_argument(
        "--public-url",
        help="the URL Twilio reaches this server at (https://... of your tunnel or load balancer); "
        "signatures are checked against it (default http://HOST:PORT)",
    )
    s.add_argument(
        "--stream-url",
        help="where Twilio opens the media stream: this process's own wss:// address when several "
        "processes share one webhook address behind a load balancer (default PUBLIC_URL/ws)",
    )
    s.add_argument("--max-calls", type=int, default=4, help="calls at once; more are told 'busy' (default 4)")
    s.add_argument(
        "--llm",
        choices=["auto", "openai", "echo"],
        default="auto",
        help="who answers: an OpenAI-compatible server (OPENAI_API_KEY / OPENAI_BASE_URL), or echo "
        "(offline: says back what it heard); auto: openai when configured",
    )
    s.add_argument(
        "--scripted-replies",
        type=Path,
        metavar="DIR",
        help="a caller may name a scenario of DIR (webhook URL ?scenario=NAME): the bot then answers "
        "with that scenario's agent lines (for tests and load runs)",
    )
    s.add_argument("--out", type=Path, help="write each finished call's timeline and report here")
    add_stt_options(s)
    add_set_option(s)
    s.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")


def _to_stderr(message: object) -> None:
    sys.stderr.write(str(message))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logger.remove()
    # The sink looks sys.stderr up on every message: whoever calls main() may have replaced it.
    level = "DEBUG" if getattr(args, "verbose", False) else "WARNING"
    logger.add(_to_stderr, level=level)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub
    if args.command == "replay":
        return _replay(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "room-tone":
        return _room_tone(args)
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
        from agent.bench.cli import bench_asr, bench_phone_load, bench_pipeline, bench_stt_faults

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
    except ValueError as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if args.chunk_ms is not None:
        settings.replay.chunk_ms = args.chunk_ms
    if args.asr is not None:
        settings.asr = args.asr
    if args.detector is not None:
        settings.detector = args.detector
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
        summary = run_replay(paths, args.out, settings, llm, realtime)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    o = summary["overall"]
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
