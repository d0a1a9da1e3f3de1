"""The comparison page's plot, from plain sweep rows."""

from __future__ import annotations

from agent.report.compare_html import plot


def _row(latency: float, rate: float, threshold: float) -> dict:
    return {"settings": {"threshold": threshold}, "false_cutoff_rate": rate, "mean_latency_ms": latency}


def test_settings_that_reach_the_same_point_share_one_dot_that_counts_them() -> None:
    rows = [_row(500.0, 0.25, 0.5), _row(500.0, 0.25, 0.7), _row(500.0, 0.25, 0.8), _row(900.0, 0.0, 0.9)]
    svg = plot({"hybrid": {"sweep": rows, "frontier": [rows[0], rows[3]]}})
    dots = [part for part in svg.split("<circle")[1:] if 'r="2.5"' in part]
    assert len(dots) == 2
    assert "{&#x27;threshold&#x27;: 0.5} and 2 more settings: 25%, 500.0 ms" in dots[0]
    assert "more settings" not in dots[1]
    assert svg.count('r="4.5"') == 2  # the frontier's two points, drawn on top
