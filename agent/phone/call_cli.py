"""``agent call URL --scenario PATH [--calls N] [--out DIR]``: place N calls at once, write the figures.

``PATH`` is a scenario file, or a folder whose scenarios are called one after another (N calls
at once each), pooled in one summary.

Exit codes as ``agent replay``: 0 every call completed and every expectation held, 1 an
expectation failed, 2 bad input or a call that failed (one line each on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from agent.phone.call_report import summarize
from agent.phone.caller import Caller, CallFailed, CallResult


def add_parser(sub: Any) -> None:
    c = sub.add_parser("call", help="place phone calls to an `agent serve` as Twilio would, and measure them")
    c.add_argument("url", help="the server's public URL (the webhook is URL/twiml)")
    c.add_argument(
        "--scenario",
        type=Path,
        required=True,
        help="the scenario the caller plays, or a folder of them (called one after another)",
    )
    c.add_argument("--calls", type=int, default=1, help="calls placed at once (default 1)")
    c.add_argument("--out", type=Path, default=Path("out-calls"), help="output folder (default: out-calls)")
    c.add_argument("-v", "--verbose", action="store_true", help="show Pipecat's debug log")


def call(args: argparse.Namespace) -> int:
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if not token:
        print(
            "agent call: set TWILIO_AUTH_TOKEN (the calls are signed with it, as Twilio signs them)",
            file=sys.stderr,
        )
        return 2
    if args.calls < 1:
        print(f"agent call: --calls must be at least 1, got {args.calls}", file=sys.stderr)
        return 2
    if not args.url.startswith(("http://", "https://")):
        print(f"agent call: URL must be http(s)://..., got {args.url!r}", file=sys.stderr)
        return 2
    from agent.replay.scenario import find_scenarios, load_scenario

    try:
        scenarios = [load_scenario(p) for p in find_scenarios(args.scenario)]
    except (ValueError, OSError) as e:
        print(f"agent call: {e}", file=sys.stderr)
        return 2
    summary = asyncio.run(place_calls(args.url, token, scenarios, args.calls, args.out))
    o = summary["overall"]
    print(
        f"{o['calls_completed']} calls completed, {o['calls_failed']} failed. "
        f"Voice-to-voice p50 {o['voice_to_voice_ms']['p50']} ms, p95 {o['voice_to_voice_ms']['p95']} ms; "
        f"end-of-turn p50 {o['eot_latency_ms']['p50']} ms, p95 {o['eot_latency_ms']['p95']} ms; "
        f"barge-in stop p50 {o['barge_in_stop_ms']['p50']} ms, p95 {o['barge_in_stop_ms']['p95']} ms. "
        f"Report: {args.out}/<call>/report.html"
    )
    for failure in o["failures"]:
        print(f"agent call: {failure}", file=sys.stderr)
    for failed in o["expectations_failed"]:
        print(f"expectation failed: {failed}", file=sys.stderr)
    if o["failures"]:
        return 2
    return 1 if o["expectations_failed"] else 0


async def place_calls(url: str, token: str, scenarios: list[Any], calls: int, out: Path) -> dict[str, Any]:
    """``calls`` calls at once for each scenario in turn; writes ``out`` and returns the summary."""
    from agent.replay.assemble import build_clip
    from agent.tts.piper_voice import PiperSynth

    voice = PiperSynth()
    began = time.perf_counter()
    results: list[CallResult] = []
    failures: list[str] = []
    for scenario in scenarios:
        clips = [build_clip(step, scenario, voice, f"turns.{i}") for i, step in enumerate(scenario.turns)]
        outcomes = await asyncio.gather(
            *(Caller(url, token, scenario, clips).run() for _ in range(calls)), return_exceptions=True
        )
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, CallResult):
                results.append(outcome)
            elif isinstance(outcome, CallFailed):
                failures.append(f"{scenario.name} call {i + 1}: {outcome}")
            elif isinstance(outcome, BaseException):
                failures.append(f"{scenario.name} call {i + 1}: {type(outcome).__name__}: {outcome}")
    return summarize(results, failures, out, time.perf_counter() - began, per_scenario=calls)
