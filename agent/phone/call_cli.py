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
from agent.replay.background import BackgroundTrack, background_track


def call(args: argparse.Namespace) -> int:
    token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    if not token:
        print(
            "agent call: set TWILIO_AUTH_TOKEN (the calls are signed with it, as Twilio signs them)",
            file=sys.stderr,
        )
        return 2
    if args.calls < 1 or not 0 <= args.stagger <= 600:
        print(
            f"agent call: --calls must be at least 1 and --stagger 0-600 s, got {args.calls}, {args.stagger}",
            file=sys.stderr,
        )
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
    summary = asyncio.run(place_calls(args.url, token, scenarios, args.calls, args.out, args.stagger))
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


async def place_calls(
    url: str,
    token: str,
    scenarios: list[Any],
    calls: int,
    out: Path,
    stagger_s: float = 0.0,
    repeat: int = 1,
    steady: bool = False,
) -> dict[str, Any]:
    """``calls`` callers at once for each scenario in turn, the i-th starting ``i * stagger_s``
    later and placing ``repeat`` calls one after another; writes ``out`` and returns the summary.
    ``steady``: the figures pool only the calls made while every caller was on the line."""
    from agent.replay.assemble import build_clip
    from agent.tts.piper_voice import PiperSynth

    voice = PiperSynth()
    began = time.perf_counter()
    results: list[CallResult] = []
    failures: list[str] = []
    window: tuple[float, float] | None = None
    for scenario in scenarios:
        clips = [build_clip(step, scenario, voice, f"turns.{i}") for i, step in enumerate(scenario.turns)]
        noise = background_track(scenario.background, scenario, voice) if scenario.background else None
        lines = await asyncio.gather(
            *(_line(i * stagger_s, repeat, url, token, scenario, clips, noise) for i in range(calls)),
            return_exceptions=True,
        )
        outcomes: list[Any] = [o for line in lines for o in (line if isinstance(line, list) else [line])]
        if steady and all(isinstance(line, list) for line in lines):
            outcomes, window = _steady([line for line in lines if isinstance(line, list)])
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, CallResult):
                results.append(outcome)
            elif isinstance(outcome, CallFailed):
                failures.append(f"{scenario.name} call {i + 1}: {outcome}")
            elif isinstance(outcome, BaseException):
                failures.append(f"{scenario.name} call {i + 1}: {type(outcome).__name__}: {outcome}")
    summary = summarize(results, failures, out, time.perf_counter() - began, per_scenario=calls * repeat)
    if window is not None:
        summary["overall"]["steady_window"] = window  # perf_counter seconds: for the caller's own process
    return summary


async def _line(
    delay_s: float,
    repeat: int,
    url: str,
    token: str,
    scenario: Any,
    clips: list[Any],
    noise: BackgroundTrack | None,
) -> list[CallResult | BaseException]:
    """One caller: waits ``delay_s``, then places ``repeat`` calls one after another."""
    await asyncio.sleep(delay_s)
    results: list[CallResult | BaseException] = []
    for _ in range(repeat):
        try:
            track = BackgroundTrack(noise.loop) if noise is not None else None  # each call from 0
            results.append(await Caller(url, token, scenario, clips, track).run())
        except (CallFailed, OSError) as e:
            results.append(e)
    return results


def _steady(
    lines: list[list[CallResult | BaseException]],
) -> tuple[list[CallResult | BaseException], tuple[float, float] | None]:
    """The calls placed after every caller's first call had begun and ended before any caller's
    last one ended, i.e. while all the callers were on the line (failures are always kept); and
    that window (``time.perf_counter`` seconds)."""
    answered = [[r for r in line if isinstance(r, CallResult)] for line in lines]
    if not all(answered):
        return [r for line in lines for r in line], None
    full_from = max(min(r.began for r in line) for line in answered)
    full_until = min(max(r.began + r.wall_seconds for r in line) for line in answered)
    kept: list[CallResult | BaseException] = [
        r for line in lines for r in line if not isinstance(r, CallResult)
    ]
    kept += [
        r
        for line in answered
        for r in line
        if r.began >= full_from - 1e-6 and r.began + r.wall_seconds <= full_until + 1e-6
    ]
    return kept, (full_from, full_until)
