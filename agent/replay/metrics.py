"""Scores one replay against its ground truth, and checks the scenario's expectations.

For each true user turn (start, end, next step's start)::

    user     ====turn====|..pause..|====|................... next step
    decision      x (premature: inside the turn)   ^ ok: the first decision after `end`
                                            end ^--- eot latency ---^  (missed if > 3 s)
    bot                                                   ^ bot audio: voice-to-voice

Latencies use live times (media time plus this machine's compute), so they stay honest at any
replay speed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent.replay.bargein_metrics import score_barge_in
from agent.replay.player import TruthStep
from agent.replay.scenario import Expect
from agent.wer import edit_distance, normalize

_BARGE_IN_COUNTS = ("barge_in_attempts", "false_barge_ins", "missed_barge_ins", "resumed_after_false_alarm")

MISSED_AFTER_S = 3.0
"""A true turn end with no decision within this many seconds is a missed turn."""


def percentiles(values: Sequence[float], with_max: bool = False) -> dict[str, Any]:
    """``{"p50", "p95", ["max"], "count"}`` of values (None when empty), rounded to 0.1."""
    out: dict[str, Any] = {"p50": None, "p95": None}
    if with_max:
        out["max"] = None
    if values:
        arr = np.asarray(values, dtype=float)
        out["p50"] = round(float(np.percentile(arr, 50)), 1)
        out["p95"] = round(float(np.percentile(arr, 95)), 1)
        if with_max:
            out["max"] = round(float(arr.max()), 1)
    out["count"] = len(values)
    return out


def score(
    events: list[dict[str, Any]], truth: Sequence[TruthStep], transcribed: bool = True
) -> dict[str, Any]:
    """Per-scenario figures, with the raw per-turn values under ``"_values"`` for pooling.

    ``asr_wer``: word errors of all the finals against all the user said (turns and
    backchannels), when what was said is known (``transcribed``: not a recording).
    """
    ends = [e for e in events if e["type"] == "turn_end"]
    bot_starts = [e for e in events if e["type"] == "bot_audio_start"]
    turns = [s for s in truth if s.kind == "turn"]
    eot: list[float] = []
    eot_media: list[float] = []
    v2v: list[float] = []
    missed = 0
    premature = 0
    matched: set[int] = set()
    for step in turns:
        nxt = min((s.start for s in truth if s.start > step.start), default=float("inf"))
        for i, e in enumerate(ends):
            if step.start < e["t"] < step.end:
                premature += 1
                matched.add(i)
        decision = next(
            ((i, e) for i, e in enumerate(ends) if step.end <= e["t"] < min(nxt, step.end + MISSED_AFTER_S)),
            None,
        )
        if decision is None:
            missed += 1
            continue
        i, e = decision
        matched.add(i)
        eot.append(1000 * (e.get("t_live", e["t"]) - step.end))
        eot_media.append(1000 * (e["t"] - step.end))
        bot = next((b for b in bot_starts if b["t"] >= e["t"] and b["t"] < nxt), None)
        if bot is not None:
            v2v.append(1000 * (bot.get("t_live", bot["t"]) - step.end))
    barge = score_barge_in(events, truth)
    said = normalize(" ".join(s.text for s in truth if s.kind in ("turn", "backchannel")))
    heard = normalize(" ".join(str(e["text"]) for e in events if e["type"] == "final"))
    errors = edit_distance(said, heard)
    if not transcribed:
        said, errors = [], 0
    checks = model_check_ms(events)
    return {
        "turns": len(turns),
        "turn_ends": len(ends),
        "eot_latency_ms": percentiles(eot, with_max=True),
        "eot_latency_media_ms": percentiles(eot_media),
        "voice_to_voice_ms": percentiles(v2v),
        "premature_cutoffs": premature,
        "missed_turns": missed,
        "spurious_turn_ends": len(ends) - len(matched),
        "barge_in_stop_ms": percentiles(barge["stop_ms"]),
        **{k: barge[k] for k in _BARGE_IN_COUNTS},
        "interrupted_replies": barge["interrupted_replies"],
        "eot_check_compute_ms": _mean_and_percentiles(checks),
        "asr_wer": round(errors / len(said), 4) if said else None,
        "_values": {
            "wer": (errors, len(said)),
            "eot": eot,
            "eot_media": eot_media,
            "v2v": v2v,
            "stop": barge["stop_ms"],
            "checks": checks,
        },
    }


def model_check_ms(events: Sequence[dict[str, Any]]) -> list[float]:
    """What each run of the end-of-turn model cost (ms), from a timeline's ``eot_check`` events.

    A verdict that ran no model is not a check: the hybrid's timeout (no score), a silence
    detector's; and a score taken ahead of its check (``ahead``) is the run, the check that then
    reads it is not.
    """
    out: list[float] = []
    ahead = False
    for e in events:
        if e["type"] != "eot_check" or e.get("detector") not in ("smart-turn", "hybrid"):
            continue
        if e.get("score") is not None and "compute_ms" in e and (e.get("ahead") or not ahead):
            out.append(float(e["compute_ms"]))
        ahead = bool(e.get("ahead"))
    return out


def pool(per_scenario: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Overall figures over several scenarios (latencies pooled, counts summed)."""
    eot = [v for s in per_scenario for v in s["_values"]["eot"]]
    eot_media = [v for s in per_scenario for v in s["_values"]["eot_media"]]
    v2v = [v for s in per_scenario for v in s["_values"]["v2v"]]
    out: dict[str, Any] = {
        k: sum(s[k] for s in per_scenario)
        for k in ("turns", "turn_ends", "premature_cutoffs", "missed_turns", "spurious_turn_ends")
    }
    out["eot_latency_ms"] = percentiles(eot, with_max=True)
    out["eot_latency_media_ms"] = percentiles(eot_media)
    out["voice_to_voice_ms"] = percentiles(v2v)
    out["barge_in_stop_ms"] = percentiles([v for s in per_scenario for v in s["_values"]["stop"]])
    for k in _BARGE_IN_COUNTS:
        out[k] = sum(s[k] for s in per_scenario)
    out["eot_check_compute_ms"] = _mean_and_percentiles(
        [v for s in per_scenario for v in s["_values"]["checks"]]
    )
    errors, words = (sum(s["_values"]["wer"][i] for s in per_scenario) for i in (0, 1))
    out["asr_wer"] = round(errors / words, 4) if words else None
    return out


def _mean_and_percentiles(values: Sequence[float]) -> dict[str, Any]:
    """What one end-of-turn check cost this machine (the detector's model and rules), in ms."""
    return {"mean": round(float(np.mean(values)), 1) if values else None, **percentiles(values)}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower())


def check(expect: Expect, figures: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    """Expectations that failed, each as one readable line (empty when all hold)."""
    failed = []
    if expect.turns is not None and figures["turn_ends"] != expect.turns:
        failed.append(f"turns: expected {expect.turns} turn ends, got {figures['turn_ends']}")
    for key in ("premature_cutoffs", "missed_turns", "false_barge_ins", "missed_barge_ins"):
        limit = getattr(expect, key)
        if limit is not None and figures[key] > limit:
            failed.append(f"{key}: expected at most {limit}, got {figures[key]}")
    worst = figures["eot_latency_ms"]["max"]
    if expect.max_eot_latency_ms is not None and worst is not None and worst > expect.max_eot_latency_ms:
        failed.append(f"max_eot_latency_ms: expected at most {expect.max_eot_latency_ms}, got {worst}")
    finals = " " + _norm(" ".join(e["text"] for e in events if e["type"] == "final")) + " "
    for word in expect.finals_include:
        if f" {_norm(word).strip()} " not in finals:
            failed.append(f"finals_include: {word!r} not in the finals")
    return failed
