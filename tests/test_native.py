"""The native detector: the provider's ends (and eager ends) through the detector interface."""

from __future__ import annotations

import numpy as np

from agent.turn.detectors import PauseContext
from agent.turn.native import NativeDetector, NativeTurn


def pause(now: float, speech_end: float = 2.0) -> PauseContext:
    return PauseContext(now, speech_end, 0.5, "what time is it", lambda a, b: np.zeros(0, np.float32))


def test_done_once_the_providers_end_for_this_pause_arrived() -> None:
    d = NativeDetector()
    d.reset()
    assert d.check(pause(2.2)) is None
    d.provider(NativeTurn("end", 2.3, 0, 0.9))
    v = d.check(pause(2.32))
    assert v is not None and v.done and v.score == 0.9
    assert d.check(pause(2.4)) is None  # once per pause


def test_an_end_from_before_the_speech_or_an_earlier_turn_is_stale() -> None:
    d = NativeDetector()
    d.provider(NativeTurn("end", 1.0, 0))  # before this pause's speech ended
    d.provider(NativeTurn("start", 1.5, 1))
    d.provider(NativeTurn("end", 2.3, 0))  # a late end of turn 0, after turn 1 began
    d.reset()
    assert d.check(pause(2.4)) is None
    d.provider(NativeTurn("end", 2.5, 1))
    v = d.check(pause(2.52))
    assert v is not None and v.done


def test_an_eager_end_is_a_likely_end_before_the_real_one() -> None:
    d = NativeDetector()
    d.reset()
    d.provider(NativeTurn("eager_end", 2.2, 0, 0.6))
    v = d.check(pause(2.22))
    assert v is not None and not v.done and v.score == 0.6
    assert d.check(pause(2.3)) is None  # said once
    d.provider(NativeTurn("end", 2.6, 0, 0.92))
    v = d.check(pause(2.62))
    assert v is not None and v.done
