"""The side-by-side comparison page of ``agent compare``: one self-contained HTML file.

A scatter plot of false-cutoff rate against mean end-of-turn latency, one point per setting of
each strategy's sweep, its frontier drawn as a line, with the 300/600 ms budgets and the 5/10 %
cutoff rates marked; then the table of what each strategy did in the replays::

    cutoff rate
      |  o  o                      o: one setting
      |     o---o                  ---: frontier (no other setting is both faster and safer)
      |          `---o---o
      +------------------------ mean latency (ms)
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
W, H, LEFT, BOTTOM, TOP, RIGHT = 760, 420, 60, 50, 20, 170
MAX_MS = 3000.0


def _px(latency_ms: float, rate: float) -> tuple[float, float]:
    x = LEFT + (W - LEFT - RIGHT) * min(latency_ms, MAX_MS) / MAX_MS
    y = TOP + (H - TOP - BOTTOM) * (1.0 - rate)
    return round(x, 1), round(y, 1)


def _axes() -> list[str]:
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" fill="#fff"/>'
    ]
    for ms in range(0, int(MAX_MS) + 1, 500):
        x, _ = _px(ms, 0)
        parts.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{H - BOTTOM}" stroke="#eee"/>')
        parts.append(f'<text x="{x}" y="{H - BOTTOM + 16}" font-size="11" text-anchor="middle">{ms}</text>')
    for pct in range(0, 101, 20):
        _, y = _px(0, pct / 100)
        parts.append(f'<line x1="{LEFT}" y1="{y}" x2="{W - RIGHT}" y2="{y}" stroke="#eee"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4}" font-size="11" text-anchor="end">{pct}%</text>')
    for ms in (300, 600):
        x, _ = _px(ms, 0)
        parts.append(
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{H - BOTTOM}" stroke="#999" stroke-dasharray="4 3"/>'
            f'<text x="{x + 3}" y="{TOP + 12}" font-size="10" fill="#666">{ms} ms</text>'
        )
    for rate in (0.05, 0.10):
        _, y = _px(0, rate)
        parts.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{W - RIGHT}" y2="{y}" stroke="#999" stroke-dasharray="4 3"/>'
            f'<text x="{W - RIGHT - 4}" y="{y - 3}" font-size="10" fill="#666" text-anchor="end">'
            f"{round(rate * 100)}%</text>"
        )
    parts.append(
        f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 12}" font-size="12" text-anchor="middle">'
        "mean end-of-turn latency on eot pauses (ms)</text>"
        f'<text x="16" y="{(TOP + H - BOTTOM) / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 16 {(TOP + H - BOTTOM) / 2})">false cutoffs on hold pauses</text>'
    )
    return parts


def plot(detectors: Mapping[str, Mapping[str, Any]]) -> str:
    """The SVG scatter of every detector's sweep, frontiers drawn."""
    parts = _axes()
    for i, (name, d) in enumerate(detectors.items()):
        color = COLORS[i % len(COLORS)]
        # One dot per point reached: many settings land on the same one (a grid of 10^5 settings
        # on 50 pauses reaches a few thousand), and its tip names the first and counts the rest.
        points: dict[tuple[float, float], list[Any]] = {}
        for r in d["sweep"]:  # (no rate without hold pauses: nothing to plot)
            if r["false_cutoff_rate"] is not None and r["mean_latency_ms"] is not None:
                points.setdefault((r["mean_latency_ms"], r["false_cutoff_rate"]), []).append(r["settings"])
        for (latency, rate), settings in points.items():
            x, y = _px(latency, rate)
            more = f" and {len(settings) - 1} more settings" if len(settings) > 1 else ""
            tip = escape(f"{name} {settings[0]}{more}: {rate:.0%}, {latency} ms")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="2.5" fill="{color}" fill-opacity="0.35">'
                f"<title>{tip}</title></circle>"
            )
        line = " ".join(
            f"{x},{y}" for x, y in (_px(r["mean_latency_ms"], r["false_cutoff_rate"]) for r in d["frontier"])
        )
        parts.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
        for r in d["frontier"]:
            x, y = _px(r["mean_latency_ms"], r["false_cutoff_rate"])
            tip = escape(f"{name} frontier {r['settings']}")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="4.5" fill="#fff" stroke="{color}" stroke-width="2">'
                f"<title>{tip}</title></circle>"
            )
        ly = TOP + 14 + 18 * i
        parts.append(
            f'<rect x="{W - RIGHT + 14}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
            f'<text x="{W - RIGHT + 32}" y="{ly + 1}" font-size="12">{escape(name)}</text>'
        )
    svg = f'<svg width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">'
    return svg + "".join(parts) + "</svg>"


def _cell(value: Any, unit: str = "") -> str:
    if value is None:
        return "<td>–</td>"
    if isinstance(value, float) and unit == "%":
        return f"<td>{value:.1%}</td>"
    return f"<td>{escape(str(value))}{unit}</td>"


def table(replays: Mapping[str, Mapping[str, Any]], detectors: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per strategy: what it did in the replays, and its sweep's summary points."""
    head = (
        "<tr><th>strategy</th><th>eot p50</th><th>eot p95</th><th>voice-to-voice p50</th>"
        "<th>premature cutoffs</th><th>missed turns</th><th>cutoff@300ms</th><th>cutoff@600ms</th>"
        "<th>latency@5%</th><th>latency@10%</th></tr>"
    )
    rows = []
    for name, o in replays.items():
        d = detectors.get(name, {})
        rows.append(
            f"<tr><th>{escape(name)}</th>"
            + _cell(o["eot_latency_ms"]["p50"], " ms")
            + _cell(o["eot_latency_ms"]["p95"], " ms")
            + _cell(o["voice_to_voice_ms"]["p50"], " ms")
            + _cell(o["premature_cutoffs"])
            + _cell(o["missed_turns"])
            + _cell(d.get("cutoff_at_300ms"), "%")
            + _cell(d.get("cutoff_at_600ms"), "%")
            + _cell(d.get("latency_at_5pct_cutoff_ms"), " ms")
            + _cell(d.get("latency_at_10pct_cutoff_ms"), " ms")
            + "</tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def render(
    replays: Mapping[str, Mapping[str, Any]],
    detectors: Mapping[str, Mapping[str, Any]],
    items: Mapping[str, int],
    source: str,
) -> str:
    """The whole page."""
    style = (
        "body{font-family:sans-serif;margin:24px;max-width:1000px}"
        "table{border-collapse:collapse;margin-top:16px}td,th{border:1px solid #ccc;padding:4px 8px;"
        "text-align:right}th:first-child{text-align:left}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>End-of-turn comparison</title>"
        f"<style>{style}</style></head><body><h1>End-of-turn strategies, side by side</h1>"
        f"<p>Replays of {escape(source)}, once per strategy. The plot sweeps each strategy's knobs on "
        f"the same {items.get('hold', 0)} hold and {items.get('eot', 0)} end-of-turn pauses taken "
        "from the replays: a hold pause where it fires is a false cutoff; on an end-of-turn pause the "
        "latency is when it fires (3 s if never). Points low and to the left are better.</p>"
        f"{plot(detectors)}{table(replays, detectors)}"
        "<p>Per-scenario reports: <code>&lt;strategy&gt;/&lt;scenario&gt;/report.html</code>.</p>"
        "</body></html>"
    )
