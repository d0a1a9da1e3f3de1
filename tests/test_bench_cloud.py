"""The robustness benchmark's judgement of lost and doubled finals, by media time."""

from __future__ import annotations

from agent.bench.cloud import lost_and_doubled, reconnect_ms


def test_lost_and_doubled_words_are_found_by_time() -> None:
    reference = [(0.0, 0.4), (0.5, 0.9), (1.0, 1.3)]
    assert lost_and_doubled(reference, [(0.0, 0.4), (0.5, 0.9), (1.0, 1.3)]) == (0, 0)
    # "555" read as "5 5 5" after a reconnect: other words, same time: nothing lost or doubled
    assert lost_and_doubled(reference, [(0.0, 0.4), (0.5, 0.6), (0.6, 0.75), (0.75, 0.9), (1.0, 1.3)]) == (
        0,
        0,
    )
    assert lost_and_doubled(reference, [(0.0, 0.4), (1.0, 1.3)]) == (1, 0)  # the middle word never came
    assert lost_and_doubled(reference, [(0.0, 0.4), (0.5, 0.9), (0.55, 0.9), (1.0, 1.3)]) == (0, 1)
    # A word squeezed to no length is still the word at that time.
    assert lost_and_doubled([(0.0, 0.4), (0.9, 0.9)], [(0.0, 0.4), (0.9, 0.9)]) == (0, 0)


def test_reconnect_time_runs_from_reconnecting_to_connected() -> None:
    events = [
        {"type": "stt_connection", "t": 0.0, "state": "connected"},
        {"type": "stt_connection", "t": 3.0, "state": "reconnecting"},
        {"type": "stt_connection", "t": 4.1, "state": "connected"},
    ]
    assert [round(x, 6) for x in reconnect_ms(events)] == [1100.0]
