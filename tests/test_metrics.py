"""Scoring a replay against its ground truth."""

from __future__ import annotations

from agent.replay.metrics import check, model_check_ms, percentiles, score
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


def ev(kind: str, t: float, **fields) -> dict:
    return {"type": kind, "t": t, **fields}


def test_barge_in_stop_time_counts_from_the_true_onset_in_live_time() -> None:
    events = [
        ev("bot_audio_start", 1.0),
        ev("barge_in_pause", 2.08, onset=2.02),
        ev("bot_paused", 2.08, t_live=2.12),
        ev("barge_in", 2.6, onset=2.02),
        ev("bot_audio_stop", 2.6, interrupted=True),
        ev("bot_interrupted", 2.6, heard="we are open"),
    ]
    f = score(events, [truth(0, 0.2, 0.8), truth(1, 2.0, 3.0)])
    assert f["barge_in_attempts"] == 1
    assert f["barge_in_stop_ms"]["p50"] == 120.0
    assert (f["false_barge_ins"], f["missed_barge_ins"]) == (0, 0)
    assert f["interrupted_replies"] == ["we are open"]


def test_talking_through_an_interruption_is_missed() -> None:
    events = [ev("bot_audio_start", 1.0), ev("bot_audio_stop", 4.0)]
    f = score(events, [truth(0, 2.0, 3.5)])
    assert f["missed_barge_ins"] == 1 and f["barge_in_stop_ms"]["count"] == 0


def test_interruptions_by_backchannels_or_echo_are_false() -> None:
    events = [
        ev("bot_audio_start", 1.0),
        ev("barge_in", 2.5, onset=2.05),  # during the "mm-hmm"
        ev("bot_audio_stop", 2.5, interrupted=True),
        ev("bot_audio_start", 5.0),
        ev("barge_in", 5.8, onset=5.5),  # no user step at all: its own echo
        ev("bot_audio_stop", 5.8, interrupted=True),
        ev("bot_audio_start", 7.0),
        ev("barge_in_resume", 7.9, onset=7.5),
        ev("bot_audio_stop", 9.0),
    ]
    f = score(events, [truth(0, 2.0, 2.4, kind="backchannel"), truth(1, 7.5, 7.8, kind="noise")])
    assert f["false_barge_ins"] == 2
    assert f["resumed_after_false_alarm"] == 1
    assert f["barge_in_attempts"] == 0


def test_a_reply_split_by_a_short_tts_gap_is_still_the_bot_speaking() -> None:
    events = [
        ev("bot_audio_start", 1.0),
        ev("bot_audio_stop", 1.5),
        ev("bot_audio_start", 1.62),
        ev("bot_paused", 1.7),
        ev("bot_audio_stop", 2.0, interrupted=True),
    ]
    f = score(events, [truth(0, 1.55, 2.5)])
    assert f["barge_in_attempts"] == 1
    assert f["barge_in_stop_ms"]["p50"] == 150.0


def test_each_end_of_turn_check_reports_what_it_cost() -> None:
    check = {"type": "eot_check", "detector": "hybrid"}
    events = [
        {**check, "t": 1.2, "done": False, "score": 0.5, "compute_ms": 30.0},
        {**check, "t": 1.6, "done": True, "score": 0.9, "compute_ms": 50.0},
        {"t": 1.6, "type": "turn_end", "text": "a"},
    ]
    f = score(events, [truth(0, 0.2, 1.0)])
    assert f["eot_check_compute_ms"] == {"mean": 40.0, "p50": 40.0, "p95": 49.0, "count": 2}
    assert score([], [])["eot_check_compute_ms"]["mean"] is None


def test_only_runs_of_the_model_count_as_checks() -> None:
    check = {"type": "eot_check", "detector": "hybrid"}
    events = [
        {**check, "t": 1.1, "score": 0.5, "done": False, "compute_ms": 40.0, "ahead": True},  # the run
        {**check, "t": 1.2, "score": 0.5, "done": False, "compute_ms": 0.01},  # reads that score
        {**check, "t": 1.5, "score": 0.6, "done": False, "compute_ms": 41.0},
        {**check, "t": 3.0, "score": None, "done": True, "compute_ms": 0.0},  # the timeout
        {"type": "eot_check", "detector": "silence", "t": 3.0, "score": 0.8, "done": True, "compute_ms": 0.0},
    ]
    assert model_check_ms(events) == [40.0, 41.0]
