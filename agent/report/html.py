"""A one-file HTML timeline of a replay, readable at a glance and viewable offline (inline SVG).

Lanes from top to bottom: user audio (with the true turns, pauses and true ends), VAD, final
transcripts, turn decisions, bot audio. Below: a table per true turn and the figures.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from agent.media import SAMPLE_RATE
from agent.replay.player import TruthStep

PX_PER_S = 90
LANE_H = 56
LEFT = 110
LANES = ("user audio", "VAD", "transcripts", "decisions", "bot audio")
COLORS = {"turn": "#cfe3ff", "backchannel": "#e6f5d0", "noise": "#f4e1c1", "silence": "#eeeeee"}


def _x(t: float) -> float:
    return LEFT + t * PX_PER_S


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _envelope(audio: np.ndarray, y0: float, color: str) -> str:
    hop = SAMPLE_RATE // 50
    n = len(audio) // hop
    if n == 0:
        return ""
    peaks = np.abs(audio[: n * hop]).reshape(n, hop).max(axis=1)
    peaks = peaks / max(1e-6, float(peaks.max())) * (LANE_H / 2 - 6)
    mid = y0 + LANE_H / 2
    top = " ".join(f"{_x(i / 50):.1f},{mid - p:.1f}" for i, p in enumerate(peaks))
    bottom = " ".join(f"{_x(i / 50):.1f},{mid + p:.1f}" for i, p in reversed(list(enumerate(peaks))))
    return f'<polygon points="{top} {bottom}" fill="{color}" opacity="0.85"/>'


def _bar(t0: float, t1: float, y: float, h: float, fill: str, title: str, label: str = "") -> str:
    w = max(1.0, (t1 - t0) * PX_PER_S)
    text = (
        f'<text x="{_x(t0) + 3:.1f}" y="{y + h / 2 + 4:.1f}" font-size="11">{_esc(label)}</text>'
        if label
        else ""
    )
    return (
        f'<g><title>{_esc(title)}</title><rect x="{_x(t0):.1f}" y="{y:.1f}" width="{w:.1f}" '
        f'height="{h:.1f}" fill="{fill}" rx="3"/>{text}</g>'
    )


def _marker(t: float, y: float, color: str, title: str, label: str = "", shape: str = "circle") -> str:
    x = _x(t)
    if shape == "circle":
        mark = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}"/>'
    else:
        points = f"M{x - 6:.1f},{y - 7:.1f} L{x + 6:.1f},{y - 7:.1f} L{x:.1f},{y + 5:.1f} Z"
        mark = f'<path d="{points}" fill="{color}"/>'
    text = f'<text x="{x + 7:.1f}" y="{y + 4:.1f}" font-size="11">{_esc(label)}</text>' if label else ""
    return f"<g><title>{_esc(title)}</title>{mark}{text}</g>"


def _lanes(
    events: Sequence[dict[str, Any]],
    truth: Sequence[TruthStep],
    user_audio: np.ndarray,
    bot_audio: np.ndarray,
) -> str:
    duration = len(user_audio) / SAMPLE_RATE
    width = _x(duration) + 40
    height = LANE_H * len(LANES) + 30
    y = {name: 10 + i * LANE_H for i, name in enumerate(LANES)}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}">']
    for name, y0 in y.items():
        parts.append(
            f'<rect x="0" y="{y0}" width="{width:.0f}" height="{LANE_H}" fill="#fafafa" stroke="#ddd"/>'
        )
        parts.append(f'<text x="6" y="{y0 + LANE_H / 2 + 4}" font-size="12" font-weight="bold">{name}</text>')
    for s in range(int(duration) + 1):
        parts.append(f'<line x1="{_x(s):.1f}" y1="5" x2="{_x(s):.1f}" y2="{height - 20}" stroke="#eee"/>')
        parts.append(f'<text x="{_x(s) - 4:.1f}" y="{height - 6}" font-size="10" fill="#666">{s}s</text>')
    for step in truth:
        parts.append(
            _bar(
                step.start,
                step.end,
                y["user audio"] + 2,
                LANE_H - 4,
                COLORS.get(step.kind, "#eee"),
                f"{step.kind}: {step.text} ({step.start:.2f}-{step.end:.2f} s)",
            )
        )
        for a, b in step.pauses:
            parts.append(
                _bar(
                    a,
                    b,
                    y["user audio"] + 2,
                    LANE_H - 4,
                    "#fff3b0",
                    f"pause inside the turn {a:.2f}-{b:.2f} s",
                    "pause",
                )
            )
    parts.append(_envelope(user_audio, y["user audio"], "#2b6cb0"))
    parts.append(_envelope(bot_audio, y["bot audio"], "#c05621"))
    for step in truth:
        if step.kind == "turn":
            x = _x(step.end)
            parts.append(
                f'<g><title>true end of turn {step.end:.3f} s</title><line x1="{x:.1f}" y1="5" x2="{x:.1f}" '
                f'y2="{height - 20}" stroke="#e53e3e" stroke-dasharray="4,3"/></g>'
            )
    _event_marks(events, y, parts)
    parts.append("</svg>")
    return "".join(parts)


def _event_marks(events: Sequence[dict[str, Any]], y: dict[str, int], parts: list[str]) -> None:
    onset = None
    for e in events:
        kind, t = e["type"], e["t"]
        live = e.get("t_live", t)
        if kind == "vad_start":
            onset = e.get("onset", t)
        elif kind == "vad_stop" and onset is not None:
            parts.append(
                _bar(
                    onset,
                    e.get("speech_end", t),
                    y["VAD"] + 14,
                    LANE_H - 28,
                    "#9ae6b4",
                    f"speech {onset:.2f}-{e.get('speech_end', t):.2f} s (stop confirmed {t:.2f} s)",
                )
            )
            onset = None
        elif kind == "final" and e.get("words"):
            w = e["words"]
            parts.append(
                _bar(
                    w[0]["start"],
                    max(w[-1]["end"], w[0]["start"] + 0.3),
                    y["transcripts"] + 12,
                    LANE_H - 24,
                    "#e9d8fd",
                    f"final at {t:.2f} s (live {live:.2f} s): {e['text']}",
                    e["text"],
                )
            )
        elif kind == "turn_start":
            parts.append(
                _marker(
                    t,
                    y["decisions"] + 16,
                    "#38a169",
                    f"turn {e['index']} start at {t:.2f} s",
                    "start",
                    "tri",
                )
            )
        elif kind == "eot_check":
            color = "#3182ce" if e.get("done") else "#a0aec0"
            parts.append(
                _marker(
                    t,
                    y["decisions"] + 40,
                    color,
                    f"{e['detector']} at {t:.2f} s: score {e.get('score')}",
                    f"{e.get('score')}",
                )
            )
        elif kind in ("turn_end", "turn_discarded"):
            label = "END" if kind == "turn_end" else "discarded"
            parts.append(
                _marker(
                    t,
                    y["decisions"] + 16,
                    "#e53e3e" if kind == "turn_end" else "#718096",
                    f"{kind} {e.get('index')} at {t:.2f} s (live {live:.2f} s) by {e.get('detector')} "
                    f"score {e.get('score')}: {e.get('text', '')}",
                    label,
                    "tri",
                )
            )
        elif kind in ("llm_first_token", "tts_first_audio"):
            parts.append(
                _marker(
                    t,
                    y["bot audio"] + 8,
                    "#805ad5" if kind == "llm_first_token" else "#d69e2e",
                    f"{kind} at {t:.2f} s (live {live:.2f} s)",
                )
            )
        elif kind == "bot_audio_stop":
            start = e.get("started", t)
            parts.append(
                f'<text x="{_x(start) + 3:.1f}" y="{y["bot audio"] + LANE_H - 6}" font-size="11">'
                f"{_esc(e.get('text', ''))}</text>"
            )


def _turn_table(events: Sequence[dict[str, Any]], truth: Sequence[TruthStep]) -> str:
    ends = [e for e in events if e["type"] == "turn_end"]
    rows = []
    for step in (s for s in truth if s.kind == "turn"):
        early = [e for e in ends if step.start < e["t"] < step.end]
        late = next((e for e in ends if e["t"] >= step.end), None)
        latency = f"{1000 * (late.get('t_live', late['t']) - step.end):.0f} ms" if late else "none"
        rows.append(
            f"<tr><td>{_esc(step.text)}</td><td>{step.end:.2f}</td>"
            f"<td>{_esc(late['t']) if late else '-'}</td><td>{latency}</td>"
            f"<td>{_esc(late.get('detector', '')) if late else ''}</td>"
            f"<td class='{'bad' if early else ''}'>{len(early)}</td></tr>"
        )
    return (
        "<table><tr><th>true user turn</th><th>true end (s)</th><th>decision (s)</th>"
        "<th>eot latency (live)</th><th>by</th><th>premature cutoffs</th></tr>" + "".join(rows) + "</table>"
    )


def render(
    name: str,
    description: str,
    events: Sequence[dict[str, Any]],
    truth: Sequence[TruthStep],
    user_audio: np.ndarray,
    bot_audio: np.ndarray,
    figures: dict[str, Any],
) -> str:
    """The complete HTML page for one scenario."""
    shown = {k: v for k, v in figures.items() if k not in ("settings", "_values")}
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{_esc(name)}: replay timeline</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 16px; color: #222; }}
.scroll {{ overflow-x: auto; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 12px 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; font-size: 13px; text-align: left; }}
td.bad {{ background: #fed7d7; }}
pre {{ background: #f6f6f6; padding: 8px; font-size: 12px; }}
.legend span {{ display: inline-block; margin-right: 14px; font-size: 13px; }}
</style></head><body>
<h2>{_esc(name)}</h2><p>{_esc(description)}</p>
<p class="legend"><span style="color:#e53e3e">- - true end of a user turn</span>
<span>&#9660; green: turn start, red: turn end</span>
<span>&#9679; end-of-turn checks (blue: said done)</span>
<span style="background:#fff3b0">pause inside a turn</span>
<span>times in media seconds; hover for details</span></p>
<div class="scroll">{_lanes(events, truth, user_audio, bot_audio)}</div>
<h3>Turns</h3>{_turn_table(events, truth)}
<h3>Figures</h3><pre>{_esc(json.dumps(shown, indent=2))}</pre>
</body></html>
"""
