"""The ``agent`` command's arguments, every subcommand's, built without loading a model.

Only light modules are imported here, so ``agent --help`` and ``agent --version`` answer at once
and nothing (Pipecat's banner included) is printed before our own output; each command imports
what it needs when it runs (:mod:`pipelines.cli`).
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from agent.eot.names import DETECTOR_NAMES
from agent.options import add_set_option, add_stt_options


def _version() -> str:
    try:
        return version("agent-turns")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agent", description="Turn-taking for voice agents.")
    p.add_argument("--version", action="version", version=f"agent {_version()}")
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="the log on stderr: plain lines, or one JSON object per line (give it before the command)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("replay", help="replay scripted scenarios offline and write a report")
    r.add_argument("path", type=Path, help="a scenario file or a folder of them")
    r.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    r.add_argument("--realtime", action="store_true", help="pace the replay at real time")
    r.add_argument(
        "--allow-outside-audio",
        action="store_true",
        help="let scenarios read recordings outside their own folder (refused by default)",
    )
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
    es = bsub.add_parser(
        "emulator-soak", help="an emulator for a long time, sessions opening and closing: its memory"
    )
    es.add_argument("provider", choices=["assemblyai", "deepgram-nova", "deepgram-flux"])
    es.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    es.add_argument("--sessions", type=int, default=8, help="connections at once in each round (default 8)")
    es.add_argument(
        "--garbage-every",
        type=int,
        default=4,
        metavar="K",
        help="every K-th session also sends garbage (0: none)",
    )
    es.add_argument("--json", type=Path, help="write the figures here")
    wb = bsub.add_parser("web", help="the browser path (Chromium, WebRTC) against the replay, same tracks")
    wb.add_argument("scenarios", type=Path, nargs="*", default=[Path("scenarios")], help="files or folders")
    wb.add_argument(
        "--processing",
        action="append",
        metavar="aec,ns,agc|none",
        help="the browser's audio processing for one run (repeat for several; "
        "default: aec, then aec,ns,agc, then none)",
    )
    wb.add_argument("--json", type=Path, help="write the figures here")
    add_set_option(wb)
    pb = bsub.add_parser("pipeline", help="compute per audio second, stage by stage, against an older commit")
    pb.add_argument("scenarios", type=Path, nargs="*", default=[Path("scenarios")], help="files or folders")
    pb.add_argument("--baseline", metavar="GIT_REF", help="also replay them with this commit, first")
    pb.add_argument("--json", type=Path, help="write the figures here")
    add_set_option(pb)
    from agent.cloud.emulator.cli import add_parser as add_emulate

    _add_eot_eval(sub)
    _add_compare(sub)
    add_emulate(sub)
    _add_serve(sub)
    _add_call(sub)
    _add_web(sub)
    _add_mic(sub)
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
    _add_llm(s)
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


def _add_eot_eval(sub: Any) -> None:
    e = sub.add_parser("eot-eval", help="end-of-turn detectors on labelled pauses, knobs swept")
    e.add_argument("manifest", type=Path, nargs="?", help="JSON-lines manifest of pauses")
    e.add_argument("--from-rttm", type=Path, help="build the manifest from speaker segments")
    e.add_argument("--audio-dir", type=Path, help="with --from-rttm: folder of <file>.wav")
    e.add_argument(
        "--from-utterances",
        type=Path,
        nargs="+",
        help="build the manifest from recordings of one complete turn each (VAD pauses: hold; end: eot)",
    )
    e.add_argument("--write-manifest", type=Path, help="with --from-...: also save the manifest")
    e.add_argument(
        "--detector", action="append", choices=sorted(DETECTOR_NAMES), help="detectors (default: all)"
    )
    e.add_argument("--json", type=Path, help="write the figures here")
    e.add_argument(
        "--agreement",
        action="store_true",
        help="the manifest is a replay's: say, pause by pause, whether the detector at its settings "
        "fires where the replay's turn controller did",
    )
    e.add_argument(
        "--evidence",
        type=Path,
        help="sweep again from the pauses a previous --json holds (no model is run)",
    )
    add_set_option(e)


def _add_compare(sub: Any) -> None:
    c = sub.add_parser("compare", help="replay scenarios once per end-of-turn strategy, side by side")
    c.add_argument("path", type=Path, help="a scenario file or a folder of them")
    c.add_argument(
        "--detectors",
        default=",".join(DETECTOR_NAMES),
        help=f"comma-separated strategies (default: {','.join(DETECTOR_NAMES)})",
    )
    c.add_argument("--out", type=Path, default=Path("out/compare"), help="output folder")
    add_stt_options(c)
    add_set_option(c)


def _add_call(sub: Any) -> None:
    c = sub.add_parser("call", help="place phone calls to an `agent serve` as Twilio would, and measure them")
    c.add_argument("url", help="the server's public URL (the webhook is URL/twiml)")
    c.add_argument(
        "--scenario",
        type=Path,
        required=True,
        help="the scenario the caller plays, or a folder of them (called one after another)",
    )
    c.add_argument("--calls", type=int, default=1, help="calls placed at once (default 1)")
    c.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds between the calls' starts (default 0)",
    )
    c.add_argument("--out", type=Path, default=Path("out-calls"), help="output folder (default: out-calls)")
    c.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")


def _add_llm(s: Any) -> None:
    s.add_argument(
        "--llm",
        choices=["auto", "openai", "echo"],
        default="auto",
        help="who answers: an OpenAI-compatible server (OPENAI_API_KEY / OPENAI_BASE_URL), or echo "
        "(offline: says back what it understood); auto: openai when configured",
    )


def _add_responder(s: Any) -> None:
    _add_llm(s)
    s.add_argument(
        "--scripted-replies",
        type=Path,
        metavar="FILE|DIR",
        help="answer with a scenario file's agent lines, in order (and its greeting); with a folder "
        "of scenarios, the one a web session names (the page's ?scenario=NAME)",
    )
    s.add_argument(
        "--greeting",
        default="Hello! Say something, and I will tell you what I heard.",
        help="what the bot says first ('' for nothing)",
    )
    add_stt_options(s)
    add_set_option(s)
    s.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")


def _add_web(sub: Any) -> None:
    w = sub.add_parser("web", help="talk to the bot from a browser page (WebRTC), on localhost")
    w.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    w.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    w.add_argument(
        "--out",
        type=Path,
        default=Path("web-sessions"),
        help="each session's timeline.json and report.html go to OUT/<session>/ (default web-sessions)",
    )
    w.add_argument("--max-sessions", type=int, default=4, help="sessions at once (default 4)")
    _add_responder(w)


def _add_mic(sub: Any) -> None:
    m = sub.add_parser("mic", help="talk to the bot from this terminal (needs the [mic] extra: PortAudio)")
    m.add_argument("--list-devices", action="store_true", help="list the sound devices and exit")
    m.add_argument("--input-device", type=int, help="the microphone's device index (default: the system's)")
    m.add_argument("--output-device", type=int, help="the speaker's device index (default: the system's)")
    m.add_argument(
        "--out",
        type=Path,
        default=Path("mic-sessions"),
        help="the session's timeline.json and report.html go to OUT/<session>/ (default mic-sessions)",
    )
    _add_responder(m)
