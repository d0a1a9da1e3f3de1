"""What ``agent call`` writes: the same ``summary.json``, ``timeline.json`` and ``report.html`` as a
replay, with every figure measured at the caller.

A call's timeline is the caller's own events (bot audio as it reached the phone, ``clear``, the
marks it echoed) merged with the server's decisions (its VAD, finals, turn ends, barge-in),
which the server stamps in the same media time (samples received = samples the caller sent). The
server's own playout events are kept under ``server_*`` names: the figures use what the caller
got::

    voice-to-voice   true end of the user's speech -> first bot audio the caller received
    barge-in stop    the user's onset -> end of the last bot audio the caller received
    end of turn      true end -> the server's turn_end (its media time holds all its lag)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import soundfile as sf

from agent.media import SAMPLE_RATE
from agent.phone.caller import CallResult
from agent.replay.metrics import check, percentiles, pool, score
from agent.report.html import render

_PLAYOUT = {"bot_audio_start", "bot_audio_stop", "bot_paused", "bot_resumed"}


def call_events(result: CallResult) -> list[dict[str, Any]]:
    """The call's timeline: the caller's events and the server's, by media time."""
    events: list[dict[str, Any]] = [dict(e) for e in result.playout.events]
    events += [{"t": round(t, 4), "type": "clear_received"} for t in result.clears]
    for e in (result.server or {}).get("events", []):
        events.append({**e, "type": f"server_{e['type']}"} if e["type"] in _PLAYOUT else dict(e))
    return sorted(events, key=lambda e: e["t"])


def call_figures(result: CallResult, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-call figures, as a replay's, plus what only a call has."""
    truth = result.player.truth
    figures = score(events, truth, transcribed=not any(s.audio for s in result.scenario.turns))
    figures["expectations_failed"] = check(result.scenario.expect, figures, events)
    if result.server is None:
        figures["expectations_failed"].append("the server's timeline of the call was not available")
    figures["audio_seconds"] = round(len(result.mic) / SAMPLE_RATE, 3)
    figures["wall_seconds"] = round(result.wall_seconds, 3)
    figures["caller_late_ticks"] = result.late_ticks
    figures["marks_played"] = sum(1 for e in result.echoes if not e.cleared)
    figures["marks_cleared"] = sum(1 for e in result.echoes if e.cleared)
    figures["clears"] = len(result.clears)
    if result.server is not None:
        figures["compute_seconds"] = result.server.get("compute_seconds", {})
        figures["server_problems"] = result.server.get("problems", [])
    return figures


def write_call(
    result: CallResult, folder: Path, figures: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    timeline = {
        "call_sid": result.call_sid,
        "events": events,
        "truth": [s.as_dict() for s in result.player.truth],
        "context": (result.server or {}).get("context", []),
        "marks": [{"name": e.name, "t": round(e.t, 4), "cleared": e.cleared} for e in result.echoes],
    }
    (folder / "timeline.json").write_text(json.dumps(timeline, indent=1))
    page = render(
        f"{result.scenario.name} (phone call {result.call_sid})",
        result.scenario.description,
        events,
        result.player.truth,
        result.mic,
        result.heard,
        figures,
    )
    (folder / "report.html").write_text(page, encoding="utf-8")
    sf.write(folder / "mic.wav", result.mic, SAMPLE_RATE, subtype="PCM_16")
    sf.write(folder / "heard.wav", result.heard, SAMPLE_RATE, subtype="PCM_16")


def summarize(
    results: list[CallResult], failures: list[str], out: Path, wall_seconds: float, per_scenario: int = 1
) -> dict[str, Any]:
    """Write every call's folder and ``summary.json``; return the summary. With several calls
    per scenario, folders are numbered (``NAME-001`` ...)."""
    per: dict[str, dict[str, Any]] = {}
    refused = []
    seen: dict[str, int] = {}
    for result in results:
        name = result.scenario.name
        seen[name] = seen.get(name, 0) + 1
        if per_scenario > 1:
            name = f"{name}-{seen[name]:03d}"
        if result.refused is not None:
            refused.append(f"{name}: refused: {result.refused}")
            continue
        events = call_events(result)
        figures = call_figures(result, events)
        write_call(result, out / name, figures, events)
        per[name] = figures
    overall = pool(list(per.values())) if per else {}
    overall.update(
        calls_completed=len(per),
        calls_failed=len(failures) + len(refused),
        failures=failures + refused,
        wall_seconds=round(wall_seconds, 3),
        expectations_failed=[f"{n}: {m}" for n, f in per.items() for m in f["expectations_failed"]],
        caller_late_ticks=sum(f["caller_late_ticks"] for f in per.values()),
        marks_played=sum(f["marks_played"] for f in per.values()),
        clears=sum(f["clears"] for f in per.values()),
    )
    if not per:
        overall.update(
            {k: percentiles([]) for k in ("voice_to_voice_ms", "eot_latency_ms", "barge_in_stop_ms")}
        )
    for f in per.values():
        f.pop("_values", None)
    summary = {"overall": overall, "calls": per}
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary
