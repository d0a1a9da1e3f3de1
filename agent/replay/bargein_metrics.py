"""Barge-in figures of one replay, from its timeline and ground truth.

A true user step that starts while a bot utterance is under way is a barge-in attempt. For a
real turn (``kind: turn``)::

    bot      ==========|(paused / stopped)          the utterance, from bot_audio_start to stop
    user           |=====turn=====|
                   ^start ^bot audio stopped: barge_in_stop_ms (live time)
    missed:  the bot's audio played more than 1 s between the user's start and end

A backchannel, a noise, or no user step at all (echo) that leads to an interruption is a false
barge-in. ``resumed_after_false_alarm`` counts resumes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.replay.player import TruthStep

MISSED_AFTER_S = 1.0
"""A real interruption the bot talks through for longer than this is missed."""

REPLY_GAP_S = 0.5
"""Bot silences up to this long inside a reply still count as the bot speaking."""

_ONSET_SLACK_S = 0.3  # VAD onsets may precede the synthesised clip's first word a little
_STOP_SLACK_S = 0.05  # a pause may come that much before the first aligned word


def playing_intervals(events: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """When bot audio was actually playing: utterance starts and resumes to pauses and stops."""
    out: list[tuple[float, float]] = []
    since: float | None = None
    for e in events:
        if e["type"] in ("bot_audio_start", "bot_resumed") and since is None:
            since = e["t"]
        elif e["type"] in ("bot_paused", "bot_audio_stop") and since is not None:
            out.append((since, e["t"]))
            since = None
    if since is not None:
        out.append((since, float("inf")))
    return out


def utterances(events: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """Bot speech from start to stop (pauses inside); utterances less than ``REPLY_GAP_S``
    apart are one (the TTS lagging between two sentences of a reply)."""
    starts = [e["t"] for e in events if e["type"] == "bot_audio_start"]
    stops = [e["t"] for e in events if e["type"] == "bot_audio_stop"]
    out: list[tuple[float, float]] = []
    for a in starts:
        b = next((b for b in stops if b >= a), float("inf"))
        if out and a - out[-1][1] <= REPLY_GAP_S:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _overlap(intervals: Sequence[tuple[float, float]], a: float, b: float) -> float:
    return sum(max(0.0, min(b, y) - max(a, x)) for x, y in intervals)


def _slack(stop: dict[str, Any]) -> float:
    """A pause may come a hair before the clip's first aligned word; a sentence the bot ended by
    itself before the user began is no reaction to them."""
    natural = stop["type"] == "bot_audio_stop" and not stop.get("interrupted")
    return 0.0 if natural else _STOP_SLACK_S


def score_barge_in(events: Sequence[dict[str, Any]], truth: Sequence[TruthStep]) -> dict[str, Any]:
    """``{"stop_ms": [...], "false_barge_ins", "missed_barge_ins", "resumed_after_false_alarm",
    "barge_in_attempts"}`` for one replay (``stop_ms`` raw, for pooling)."""
    spoken = utterances(events)
    playing = playing_intervals(events)
    stops = [e for e in events if e["type"] in ("bot_paused", "bot_audio_stop")]
    interrupts = [e for e in events if e["type"] == "barge_in"]
    real = [s for s in truth if s.kind == "turn" and any(a <= s.start < b for a, b in spoken)]
    stop_ms: list[float] = []
    missed = 0
    for step in real:
        stop = next((e for e in stops if e["t"] >= step.start - _slack(e)), None)
        if stop is not None and stop["t"] <= step.end:
            stop_ms.append(1000 * (stop.get("t_live", stop["t"]) - step.start))
        if _overlap(playing, step.start, step.end) > MISSED_AFTER_S:
            missed += 1
    turns = [s for s in truth if s.kind == "turn"]
    false = sum(
        1
        for e in interrupts
        if not any(s.start - _ONSET_SLACK_S <= e.get("onset", e["t"]) <= s.end for s in turns)
    )
    return {
        "barge_in_attempts": len(real),
        "stop_ms": stop_ms,
        "false_barge_ins": false,
        "missed_barge_ins": missed,
        "resumed_after_false_alarm": sum(1 for e in events if e["type"] == "barge_in_resume"),
        "interrupted_replies": [e.get("heard", "") for e in events if e["type"] == "bot_interrupted"],
    }
