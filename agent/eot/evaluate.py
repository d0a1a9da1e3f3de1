"""``agent eot-eval``: every detector on the same pauses, each knob swept, the trade-off reported.

For each pause the evidence a live detector would have is gathered once (:mod:`agent.eot.evidence`):
smart-turn's P(complete) after each 0.1 s of the pause as recorded, and the words the streaming
recogniser made final for the turn so far. A detector setting then *fires* at some time after
the pause starts::

    speech ====|.... pause ....|====      hold: firing before the pause ends is a false cutoff
               ^pause_start
    speech ====|.................         eot: latency = fire time - pause_start (3 s if never)

Holds shorter than 0.2 s or longer than 5 s are not scored (``HOLD_SPAN_S``, as eot-bench).
Per detector: the sweep table, ``cutoff_at_300ms`` / ``cutoff_at_600ms`` (lowest false-cutoff
rate among settings whose mean latency is within the budget) and ``latency_at_5pct_cutoff_ms`` /
``latency_at_10pct_cutoff_ms`` (lowest mean latency among settings whose false-cutoff rate is
within the rate), with the settings that reached each (in the style of LiveKit's eot-bench).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from agent.eot.evidence import OFFSETS, TIMEOUT_S, Evidence
from agent.turn.detectors import HybridSettings, cue_bar, decide, worth_checking

VAD_STOP_S = 0.2
"""Live, the VAD confirms a pause only after its ``stop_secs`` (0.2 s): no check comes sooner."""
HOLD_SPAN_S = (0.2, 5.0)
"""Holds scored, by length (s), as LiveKit's eot-bench does by default (``--min-hold-span-duration``
0.2, ``--max-hold-span-duration`` 5.0): a shorter one ends before any detector may act (the VAD
stop), and after a longer one the same speaker is starting something new."""


FireTime = Callable[[Evidence], float]


def _checks(delay: float, recheck: float | None) -> list[float]:
    """Silences at which a detector with this delay and recheck period looks (none before the VAD
    stop: a check due sooner happens then)."""
    due = (
        [delay]
        if recheck is None
        else [d for d in OFFSETS if d >= delay - 1e-9 and round((d - delay) / recheck, 6) % 1 == 0]
    )
    return sorted({max(VAD_STOP_S, d) for d in due})


def _silence_fire(e: Evidence, threshold: float) -> float:
    return threshold


def _smart_turn_fire(e: Evidence, threshold: float, checks: list[float], fallback: float) -> float:
    return next((d for d in checks if d < fallback and e.scores[d] >= threshold), fallback)


def _hybrid_fire(e: Evidence, s: HybridSettings, checks: list[float]) -> float:
    for d in checks:
        if not worth_checking(d, s):
            break
        cue = e.cue_at[d]
        if cue == "open" and d < s.open_min_silence_s - 1e-9:
            continue  # as the live detector: nothing to decide yet
        scored = max(OFFSETS[0], round(d - s.score_lead_s, 1))  # the model read the audio then
        if decide(e.scores[scored], cue, d, s):
            return d
    return s.max_silence_s


Config = tuple[dict[str, Any], FireTime]


def silence_configs() -> list[Config]:
    """Every threshold the evidence can tell apart: 0.2 s (the VAD stop) to 3 s, by 0.1 s."""
    return [({"threshold_s": th}, partial(_silence_fire, threshold=th)) for th in OFFSETS if th >= VAD_STOP_S]


# The acoustic knobs both smart-turn and the hybrid sweep, so that the words are all that the
# hybrid adds: a model threshold, the silence before the first check, when to check again (None:
# once per pause) and the silence after which the turn ends anyway.
THRESHOLDS = (0.05, 0.1, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.985)
DELAYS_S = (0.2, 0.3, 0.4)
RECHECKS_S = (None, 0.4)
GIVE_UP_S = (0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0)


def smart_turn_configs() -> list[Config]:
    out: list[Config] = []
    for th, recheck, fallback, delay in itertools.product(THRESHOLDS, RECHECKS_S, GIVE_UP_S, DELAYS_S):
        fire = partial(_smart_turn_fire, threshold=th, checks=_checks(delay, recheck), fallback=fallback)
        out.append(({"threshold": th, "recheck_s": recheck, "fallback_s": fallback, "delay_s": delay}, fire))
    return out


def hybrid_configs() -> list[Config]:
    """The hybrid's grid. It holds smart-turn's own settings too (the short-answer, question and
    open thresholds equal to the threshold, open sentences not held): the words can only add to
    the model. Its settings check up to the timeout (``timeout_margin_s`` 0), as smart-turn's
    do; the pipeline's own point (:func:`at_settings`) keeps the pipeline's margin."""
    out: list[Config] = []
    seen: set[tuple[float, ...]] = set()
    checks: dict[tuple[float, float], list[float]] = {}
    answer_thresholds = (0.2, 0.4, 0.6, None)  # None: as the threshold
    for th, closed, question, open_th, open_min, max_s, recheck, delay, lead in itertools.product(
        THRESHOLDS,
        answer_thresholds,
        answer_thresholds,
        (None, 0.5, 0.9, 0.99, 1.01),  # 1.01: an unfinished sentence waits for max_silence_s
        (0.1, 0.8, 1.2, 1.6, 2.0),
        GIVE_UP_S,
        [10.0 if r is None else r for r in RECHECKS_S],  # 10 s: one check per pause, as Pipecat
        DELAYS_S,
        (0.0, 0.1),  # 0: the model reads the audio at the check, as smart-turn alone does
    ):
        settings = {
            "threshold": th,
            "closed_threshold": th if closed is None else min(closed, th),
            "question_threshold": th if question is None else min(question, th),
            "open_threshold": th if open_th is None else open_th,
            "open_min_silence_s": open_min,
            "max_silence_s": max_s,
            "recheck_s": recheck,
            "delay_s": delay,
            "score_lead_s": lead,
            "timeout_margin_s": 0.0,
        }
        key = tuple(settings.values())
        if key in seen:
            continue
        seen.add(key)
        s = HybridSettings.model_construct(None, **settings)  # the grid's values are valid settings
        if (delay, recheck) not in checks:
            checks[delay, recheck] = _checks(delay, recheck)
        out.append((settings, partial(_hybrid_fire, s=s, checks=checks[delay, recheck])))
    return out


DETECTORS: dict[str, Callable[[], list[Config]]] = {
    "silence": silence_configs,
    "smart-turn": smart_turn_configs,
    "hybrid": hybrid_configs,
}


def own_configs(settings: Any) -> dict[str, Config]:
    """Each detector at the pipeline's own settings (``settings``: :class:`agent.settings.Settings`):
    smart-turn with its silence fallback, the hybrid with its checks."""
    st, h = settings.smart_turn, settings.hybrid
    st_checks = own_checks(settings.model_copy(update={"detector": "smart-turn"}))
    silence = settings.silence.threshold_s
    return {
        "silence": ({"threshold_s": silence}, partial(_silence_fire, threshold=silence)),
        "smart-turn": (
            st.model_dump(include={"threshold", "delay_s", "recheck_s", "max_checks"}),
            partial(
                _smart_turn_fire,
                threshold=st.threshold,
                checks=st_checks,
                fallback=settings.silence_fallback.threshold_s,
            ),
        ),
        "hybrid": (h.model_dump(), partial(_hybrid_fire, s=h, checks=_checks(h.delay_s, h.recheck_s))),
    }


def own_checks(settings: Any) -> list[float]:
    """The silences at which the pipeline's own detector (``settings.detector``) reads smart-turn:
    all an evaluation of that one setting needs scored."""
    if settings.detector == "smart-turn":
        st = settings.smart_turn
        return sorted(
            {max(VAD_STOP_S, round(st.delay_s + k * st.recheck_s, 1)) for k in range(st.max_checks)}
        )
    if settings.detector == "hybrid":
        h = settings.hybrid
        due = [d for d in _checks(h.delay_s, h.recheck_s) if worth_checking(d, h)]
        return sorted({max(OFFSETS[0], round(d - h.score_lead_s, 1)) for d in due})
    return []


def at_settings(evidence: list[Evidence], settings: Any) -> dict[str, dict[str, Any]]:
    """Each detector's point (false cutoffs, mean latency) at the pipeline's own settings, and
    the silence thresholds that beat it on both counts (fewer cutoffs and no more latency, or as
    few and less latency)."""
    silence = sweep(evidence, silence_configs())
    out = {}
    for name, config in own_configs(settings).items():
        [row] = sweep(evidence, [config])
        c, lat = row["false_cutoff_rate"], row["mean_latency_ms"]
        if c is not None and lat is not None:
            row["beaten_by_silence_s"] = [
                r["settings"]["threshold_s"]
                for r in silence
                if (r["false_cutoff_rate"], r["mean_latency_ms"]) != (c, lat)
                and r["false_cutoff_rate"] <= c
                and r["mean_latency_ms"] <= lat
            ]
        out[name] = row
    return out


CLOSE_MARGIN = 0.03
"""How near its threshold a score may lie before a decision counts as close: int8 kernels differ
by CPU, and scores with them by a few hundredths."""


def close_calls(
    evidence: list[Evidence], settings: Any, margin: float = CLOSE_MARGIN
) -> dict[str, dict[str, int]]:
    """For smart-turn and the hybrid at the pipeline's settings: how many score checks they make
    on these pauses (up to the one that ends the turn, or the pause's end), and in how many the
    score lies within ``margin`` of a threshold it was held against: the decisions another
    machine's rounding could flip."""
    st, h = settings.smart_turn, settings.hybrid
    st_checks = own_checks(settings.model_copy(update={"detector": "smart-turn"}))
    h_checks = [d for d in _checks(h.delay_s, h.recheck_s) if worth_checking(d, h)]
    out = {"smart-turn": {"checks": 0, "close": 0}, "hybrid": {"checks": 0, "close": 0}}
    for e in evidence:
        until = e.length if e.item.label == "hold" else TIMEOUT_S  # a hold's checks end with it
        for d in st_checks:
            if d >= until or d >= settings.silence_fallback.threshold_s:
                break
            p = e.scores[d]
            out["smart-turn"]["checks"] += 1
            out["smart-turn"]["close"] += abs(p - st.threshold) < margin
            if p >= st.threshold:
                break
        for d in h_checks:
            if d >= until:
                break
            cue = e.cue_at[d]
            bars = [] if cue == "open" else [cue_bar(cue, h)]
            if d >= h.open_min_silence_s - 1e-9:
                bars.append(h.open_threshold)
            if not bars:
                continue
            p = e.scores[max(OFFSETS[0], round(d - h.score_lead_s, 1))]
            out["hybrid"]["checks"] += 1
            out["hybrid"]["close"] += any(abs(p - b) < margin for b in bars)
            if decide(p, cue, d, h):
                break
    return out


def scored_holds(evidence: list[Evidence], span: tuple[float, float] = HOLD_SPAN_S) -> list[Evidence]:
    """The holds a sweep counts: those whose pause length lies within ``span`` (s)."""
    return [e for e in evidence if e.item.label == "hold" and span[0] - 1e-9 <= e.length <= span[1] + 1e-9]


def sweep(
    evidence: list[Evidence], configs: list[Config], hold_span: tuple[float, float] = HOLD_SPAN_S
) -> list[dict[str, Any]]:
    holds = scored_holds(evidence, hold_span)
    eots = [e for e in evidence if e.item.label == "eot"]
    rows = []
    for settings, fire in configs:
        cutoffs = sum(1 for e in holds if fire(e) < e.length - 1e-9)
        latency = [min(fire(e), TIMEOUT_S) for e in eots]
        rows.append(
            {
                "settings": settings,
                "false_cutoff_rate": round(cutoffs / len(holds), 4) if holds else None,
                "mean_latency_ms": round(1000 * float(np.mean(latency)), 1) if latency else None,
            }
        )
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The four headline figures of a sweep, with the settings that reached each."""
    out: dict[str, Any] = {}
    valid = [r for r in rows if r["false_cutoff_rate"] is not None and r["mean_latency_ms"] is not None]
    for budget in (300, 600):
        ok = [r for r in valid if r["mean_latency_ms"] <= budget]
        best = min(ok, key=lambda r: (r["false_cutoff_rate"], r["mean_latency_ms"]), default=None)
        out[f"cutoff_at_{budget}ms"] = best["false_cutoff_rate"] if best else None
        out[f"cutoff_at_{budget}ms_settings"] = best["settings"] if best else None
    for pct in (5, 10):
        ok = [r for r in valid if r["false_cutoff_rate"] <= pct / 100 + 1e-9]
        best = min(ok, key=lambda r: (r["mean_latency_ms"], r["false_cutoff_rate"]), default=None)
        out[f"latency_at_{pct}pct_cutoff_ms"] = best["mean_latency_ms"] if best else None
        out[f"latency_at_{pct}pct_cutoff_ms_settings"] = best["settings"] if best else None
    out["frontier"] = frontier(valid)
    out["sweep"] = rows
    return out


def frontier(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Settings no other setting beats on both false cutoffs and latency, by latency."""
    ordered = sorted(rows, key=lambda r: (r["mean_latency_ms"], r["false_cutoff_rate"]))
    out: list[dict[str, Any]] = []
    for r in ordered:
        if not out or r["false_cutoff_rate"] < out[-1]["false_cutoff_rate"]:
            out.append(r)
    return out
