"""The turn controller, driven with plain timestamps and stand-in detectors."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.events import Final, Word
from agent.turn.controller import TurnController, TurnEvent, TurnSettings
from agent.turn.detectors import (
    PauseContext,
    SilenceDetector,
    SilenceSettings,
    SmartTurnDetector,
    SmartTurnSettings,
    Verdict,
)

DT = 0.02


def no_audio(start: float, end: float) -> np.ndarray:
    return np.zeros(max(0, round((end - start) * 16000)), dtype=np.float32)


def controller(silence_s: float = 0.5, wait: float = 2.0) -> TurnController:
    return TurnController(
        [SilenceDetector(SilenceSettings(threshold_s=silence_s))],
        TurnSettings(final_wait_max_s=wait),
        no_audio,
    )


def ticks(c: TurnController, start: float, end: float) -> list[TurnEvent]:
    out: list[TurnEvent] = []
    for k in range(round(start / DT), round(end / DT)):
        out += c.tick(k * DT)
    return [e for e in out if e.kind != "eot_check"]


def words(text: str, start: float, end: float) -> tuple[Word, ...]:
    parts = text.split()
    step = (end - start) / len(parts)
    return tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(parts))


def test_turn_ends_after_silence_once_finals_cover_the_speech() -> None:
    c = controller()
    assert [e.kind for e in c.speech_started(0.7, 0.5)] == ["turn_start"]
    c.speech_stopped(2.2, 2.0)
    c.final(Final(words("hello there", 0.5, 2.0), audio_end=2.2))
    events = ticks(c, 2.2, 4.0)
    assert [(e.kind, round(e.t, 2), e.text) for e in events] == [("turn_end", 2.5, "hello there")]
    assert events[0].verdict is not None and events[0].verdict.detector == "silence"


def test_turn_never_ends_while_a_final_is_pending() -> None:
    c = controller(wait=5.0)
    c.speech_started(0.7, 0.5)
    c.speech_stopped(2.2, 2.0)
    assert c.pending_final
    assert ticks(c, 2.2, 3.4) == []  # the detector said done at 2.5, but no final yet
    c.final(Final(words("hello there", 0.5, 2.0), audio_end=2.2))
    events = ticks(c, 3.4, 4.0)
    assert [(e.kind, round(e.t, 2)) for e in events] == [("turn_end", 3.4)]


def test_a_recogniser_that_never_answers_is_waited_for_at_most_final_wait_max() -> None:
    c = controller(wait=1.0)
    c.speech_started(0.7, 0.5)
    c.final(Final(words("partly heard", 0.5, 1.0), audio_end=1.0))
    c.speech_stopped(2.2, 2.0)
    events = ticks(c, 2.2, 5.0)
    assert [(e.kind, round(e.t, 2)) for e in events] == [("turn_end", 3.5)]
    assert events[0].extra == {"finals_timed_out": True}
    assert events[0].text == "partly heard"


def test_finals_are_waited_for_while_a_cloud_link_is_down_and_its_replay_is_read() -> None:
    """Silence says done at 2.5; the link drops at 2.3 and is back at 4.0 with 3 s of audio
    replayed: no timeout while down, and the 1 s wait runs from 4.0 + 3.0."""
    c = controller(wait=1.0)
    c.speech_started(0.7, 0.5)
    c.speech_stopped(2.2, 2.0)
    c.recogniser_link(2.3, up=False)
    assert ticks(c, 2.2, 4.0) == []
    c.recogniser_link(4.0, up=True, backlog_s=3.0)
    assert ticks(c, 4.0, 7.9) == []
    c.final(Final(words("hello there", 0.5, 2.0), audio_end=2.2))
    assert [(e.kind, round(e.t, 2), e.text) for e in ticks(c, 7.9, 8.5)] == [("turn_end", 7.9, "hello there")]
    c.speech_started(9.2, 9.0)  # a later turn whose recogniser never answers: waited for as usual
    c.final(Final(words("partly heard", 9.0, 9.5), audio_end=9.5))
    c.speech_stopped(10.2, 10.0)
    events = ticks(c, 10.2, 13.0)
    assert [(e.kind, round(e.t, 2), e.extra) for e in events] == [
        ("turn_end", 11.5, {"finals_timed_out": True})
    ]


def test_resumed_speech_cancels_the_pause() -> None:
    c = controller()
    c.speech_started(0.7, 0.5)
    c.speech_stopped(2.2, 2.0)
    c.flushed(2.2)
    assert ticks(c, 2.2, 2.4) == []
    assert c.speech_started(2.45, 2.3) == []  # same turn goes on, no new turn_start
    c.speech_stopped(4.2, 4.0)
    c.final(Final(words("my number is four one five", 0.5, 4.0), audio_end=4.2))
    events = ticks(c, 2.46, 5.0)
    assert [(e.kind, round(e.t, 2), e.index) for e in events] == [("turn_end", 4.5, 0)]


def test_a_turn_without_words_is_discarded() -> None:
    c = controller()
    c.speech_started(0.7, 0.5)
    c.speech_stopped(1.2, 1.0)
    c.flushed(1.2)  # the recogniser heard nothing (a cough)
    events = ticks(c, 1.2, 2.0)
    assert [e.kind for e in events] == ["turn_discarded"]
    c.speech_started(3.0, 2.8)
    c.speech_stopped(4.0, 3.8)
    c.final(Final(words("yes", 2.8, 3.8), audio_end=4.0))
    assert [(e.kind, e.index, e.text) for e in ticks(c, 4.0, 5.0)] == [("turn_end", 0, "yes")]


def test_words_after_the_pause_belong_to_the_next_turn() -> None:
    c = controller()
    c.speech_started(0.7, 0.5)
    c.speech_stopped(1.7, 1.5)
    c.final(Final(words("first", 0.5, 1.5) + words("second", 1.8, 2.0), audio_end=2.2))
    [end] = ticks(c, 1.7, 2.1)
    assert end.text == "first"
    c.speech_started(2.0, 1.8)
    c.speech_stopped(2.2, 2.0)
    [end2] = ticks(c, 2.2, 3.0)
    assert (end2.index, end2.text) == (1, "second")


def test_no_turn_end_while_voice_is_coming_in() -> None:
    """The user goes on 0.45 s into the pause; the VAD would confirm it only at 0.65 s."""
    c = controller(silence_s=0.5)
    c.speech_started(0.7, 0.5)
    c.speech_stopped(2.2, 2.0)
    c.final(Final(words("sure", 0.5, 2.0), audio_end=2.2))
    assert ticks(c, 2.2, 2.44) == []
    c.voice(2.482, True)  # first voiced window of the restart
    assert ticks(c, 2.44, 2.6) == []  # the silence detector says done, but voice is coming in
    assert c.speech_started(2.65, 2.45) == []  # the restart: the pause is over, no cutoff
    assert ticks(c, 2.66, 3.0) == []
    # A short noise instead lets the decision through as soon as it stops.
    c2 = controller(silence_s=0.5)
    c2.speech_started(0.7, 0.5)
    c2.speech_stopped(2.2, 2.0)
    c2.final(Final(words("sure", 0.5, 2.0), audio_end=2.2))
    c2.voice(2.482, True)
    assert ticks(c2, 2.44, 2.52) == []
    c2.voice(2.514, False)
    assert [e.kind for e in ticks(c2, 2.52, 2.6)] == ["turn_end"]


def test_the_pause_is_judged_up_to_the_last_window_heard_not_the_tick() -> None:
    """Silence is known only up to the last VAD window: at the tick 2.52 the window 2.496-2.528
    is still under way (it holds the user going on), so 0.5 s of silence has not been heard."""
    c = controller(silence_s=0.5)
    c.speech_started(0.7, 0.5)
    c.speech_stopped(2.2, 2.0)
    c.final(Final(words("sure", 0.5, 2.0), audio_end=2.2))
    window = 0.032
    for k in range(63, 79):  # unvoiced windows ending 2.016 ... 2.496
        c.voice(k * window, False)
    assert ticks(c, 2.2, 2.54) == []
    c.voice(2.528, True)  # the user went on at 2.496
    assert ticks(c, 2.54, 2.7) == []


def test_a_backchannel_while_the_bot_talks_asks_for_no_reply() -> None:
    c = controller()
    c.bot_talking(True)
    c.speech_started(1.2, 1.0)
    c.speech_stopped(1.8, 1.6)
    c.final(Final(words("Mm-hmm.", 1.0, 1.5), audio_end=1.8))
    events = ticks(c, 1.8, 3.0)
    assert [e.kind for e in events] == ["turn_discarded"]
    assert events[0].extra["backchannel"] == "Mm-hmm."
    # The same word to a quiet bot is a turn ("Okay." as an answer).
    c.bot_talking(False)
    c.speech_started(5.2, 5.0)
    c.speech_stopped(5.8, 5.6)
    c.final(Final(words("Okay.", 5.0, 5.5), audio_end=5.8))
    assert [e.kind for e in ticks(c, 5.8, 7.0)] == ["turn_end"]


def test_more_words_than_the_speech_could_hold_over_the_bot_are_no_turn() -> None:
    c = controller()
    c.bot_talking(True)
    c.speech_started(1.2, 1.0)
    c.speech_stopped(1.6, 1.4)
    c.final(Final(words("hey I'm up hey I'm up", 1.0, 1.4), audio_end=1.6))
    events = ticks(c, 1.6, 3.0)
    assert [e.kind for e in events] == ["turn_discarded"] and "unreadable" in events[0].extra


def test_a_false_alarm_discards_the_turn_and_all_its_words() -> None:
    c = controller()
    c.speech_started(1.2, 1.0)
    c.speech_stopped(1.6, 1.4)
    # A hallucinated reading stamps words after the speech; they must not reach the next turn.
    c.final(Final(words("hey I'm up", 1.0, 1.4) + words("hey I'm up", 1.5, 1.6), audio_end=1.6))
    events = c.false_alarm(1.0, 1.62)
    assert [e.kind for e in events] == ["turn_discarded"] and not c.in_turn
    c.speech_started(4.2, 4.0)
    c.speech_stopped(4.8, 4.6)
    c.final(Final(words("thanks", 4.0, 4.5), audio_end=4.8))
    assert [e.text for e in ticks(c, 4.8, 6.0)] == ["thanks"]


def test_smart_turn_is_checked_once_per_pause_after_its_delay() -> None:
    calls: list[float] = []

    def score(audio: np.ndarray) -> float:
        calls.append(len(audio) / 16000)
        return 0.2

    d = SmartTurnDetector(score, SmartTurnSettings(delay_s=0.2, max_checks=1, pre_speech_s=0.5))
    ctx = dict(speech_end=2.0, turn_start=1.0, text="", audio=no_audio)
    assert d.check(PauseContext(now=2.1, **ctx)) is None
    v = d.check(PauseContext(now=2.2, **ctx))
    assert v == Verdict("smart-turn", 2.2, False, 0.2, v.compute_s if v else 0.0)
    assert calls == [1.7]  # from turn start minus pre-speech to now
    assert d.check(PauseContext(now=3.0, **ctx)) is None
    d.reset()
    assert d.check(PauseContext(now=2.3, **ctx)) is not None


segments = st.lists(
    st.tuples(st.floats(0.1, 2.0), st.floats(0.05, 1.5), st.floats(0.0, 3.0)),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(segs=segments, silence=st.floats(0.1, 1.5), wait=st.floats(0.5, 3.0))
def test_property_no_turn_end_while_a_final_is_pending(segs, silence: float, wait: float) -> None:
    """Whatever the speech and however late the recogniser, a turn ends only when the finals
    cover the speech before the pause (or, flagged, after waiting final_wait_max_s)."""
    c = controller(silence, wait)
    timeline: list[tuple[float, str, object]] = []
    t = 0.5
    for gap, length, asr_delay in segs:
        onset, end = t + gap, t + gap + length
        timeline.append((onset + 0.2, "start", onset))
        timeline.append((end + 0.2, "stop", end))
        timeline.append((end + 0.2 + asr_delay, "final", Final(words("w", onset, end), end + 0.2)))
        t = end
    timeline.sort(key=lambda x: x[0])
    delivered: list[float] = []
    speaking_until = 0.0
    horizon = t + 6.0
    k = 0
    for step in range(round(horizon / DT)):
        now = step * DT
        while k < len(timeline) and timeline[k][0] <= now:
            _, kind, arg = timeline[k]
            if kind == "start":
                c.speech_started(now, float(arg))  # type: ignore[arg-type]
            elif kind == "stop":
                c.speech_stopped(now, float(arg))  # type: ignore[arg-type]
                speaking_until = float(arg)  # type: ignore[arg-type]
            else:
                c.final(arg)  # type: ignore[arg-type]
                delivered.append(arg.audio_end)  # type: ignore[union-attr]
            k += 1
        for e in c.tick(now):
            if e.kind not in ("turn_end", "turn_discarded"):
                continue
            assert e.speech_end is not None
            covered = any(a >= e.speech_end - 1e-6 for a in delivered)  # the controller's tolerance
            if not covered:
                assert e.extra.get("finals_timed_out") is True
                assert e.verdict is not None and now - e.verdict.t >= wait - 1e-6
            assert e.speech_end <= speaking_until + 1e-9
