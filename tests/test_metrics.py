"""Scoring a replay against its ground truth."""

from __future__ import annotations

from agent.replay.metrics import check, percentiles, score
from agent.replay.player import TruthStep
from agent.replay.scenario import Expect


def truth(i: int, start: float, end: float, kind: str = "turn", pauses=()) -> TruthStep:
    return TruthStep(i, kind, f"step {i}", start, end, tuple(pauses), start, end)


def test_latency_uses_live_time_and_cutoffs_are_counted() -> None:
    steps = [truth(0, 1.0, 4.0, pauses=[(2.0, 3.0)]), truth(1, 8.0, 9.0)]
    events = [
        {"t": 2.5, "type": "turn_end", "text": "cut"},  # inside the pause: premature
        {"t": 4.3, "t_live": 4.6, "type": "turn_end", "text": "a"},
        {"t": 5.0, "t_live": 5.2, "type": "bot_audio_start"},
        {"t": 12.5, "type": "turn_end", "text": "late"},  # 3.5 s after: missed
    ]
    f = score(events, steps)
    assert f["turns"] == 2
    assert f["premature_cutoffs"] == 1
    assert f["missed_turns"] == 1
    assert f["eot_latency_ms"]["p50"] == 600.0
    assert f["voice_to_voice_ms"]["p50"] == 1200.0
    assert f["spurious_turn_ends"] == 1  # the late one matched nothing


def test_non_turn_steps_are_not_turns() -> None:
    f = score([], [truth(0, 1.0, 1.5, kind="backchannel"), truth(1, 2.0, 2.3, kind="noise")])
    assert f["turns"] == 0 and f["missed_turns"] == 0


def test_percentiles_of_nothing_are_null() -> None:
    assert percentiles([], with_max=True) == {"p50": None, "p95": None, "max": None, "count": 0}


def test_expectations() -> None:
    events = [{"t": 3.0, "type": "final", "text": "My number is 415."}]
    f = score(events, [truth(0, 1.0, 2.0)])
    failed = check(Expect(turns=1, missed_turns=0, finals_include=["number", "555"]), f, events)
    assert failed == [
        "turns: expected 1 turn ends, got 0",
        "missed_turns: expected at most 0, got 1",
        "finals_include: '555' not in the finals",
    ]
