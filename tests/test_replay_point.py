"""Where a new session starts after a reconnect, with plain timestamps."""

from __future__ import annotations

from agent.cloud.replay_point import ReplayRules, Utterance, replay_from, run_onset
from agent.media import on_grid

RULES = ReplayRules(context_s=3.0, margin_s=0.5, max_back_s=4.0)


def speech(*spans: tuple[float, float | None]) -> list[Utterance]:
    return [Utterance(a, b) for a, b in spans]


def test_a_run_is_replayed_from_its_first_utterance() -> None:
    said = speech((1.0, 2.0), (6.0, 7.0), (7.1, 8.0), (8.8, None))
    assert run_onset(said, 8.8, 3.0) == 6.0  # pauses of 0.1 s and 0.8 s join c and d to b
    # the last final fell in d: replay b c d from before b
    assert replay_from(said, uncovered=8.8, covered=9.2, now=9.6, rules=RULES) == on_grid(5.5)


def test_a_long_pause_starts_a_new_run() -> None:
    said = speech((1.0, 2.0), (6.0, 7.0))
    assert replay_from(said, uncovered=6.0, covered=2.0, now=7.5, rules=RULES) == on_grid(5.5)


def test_never_further_back_than_max_back_before_the_last_final() -> None:
    said = speech((1.0, 3.0), (3.5, 6.0), (6.5, None))
    assert run_onset(said, 6.5, 3.0) == 1.0
    assert replay_from(said, uncovered=6.5, covered=9.0, now=9.5, rules=RULES) == on_grid(5.0)


def test_all_final_and_silent_for_long_replays_nothing() -> None:
    said = speech((1.0, 2.0))
    assert replay_from(said, uncovered=None, covered=2.0, now=6.0, rules=RULES) == on_grid(5.5)


def test_all_final_but_the_run_goes_on_replays_the_run() -> None:
    """A drop in a short pause: the next words will be read with the run before them."""
    said = speech((1.0, 2.0), (2.5, 3.5))
    assert replay_from(said, uncovered=None, covered=3.5, now=4.5, rules=RULES) == on_grid(0.5)


def test_the_first_uncovered_speech_when_no_final_reached_it() -> None:
    said = speech((1.0, 2.0), (10.0, 11.0), (11.5, None))
    assert replay_from(said, uncovered=10.0, covered=2.0, now=12.0, rules=RULES) == on_grid(9.5)
