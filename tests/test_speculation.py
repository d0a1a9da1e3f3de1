"""Eager ends and speculative replies: used only on the same finals, never after the user went on."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    Frame,
    LLMContextFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext

from agent.events import Final, Timeline, Word
from agent.llm.reply import LLMProcessor
from agent.llm.scripted import ScriptedLLMSettings, ScriptedReplies
from agent.turn.controller import TurnController, TurnEvent, TurnSettings
from agent.turn.detectors import PauseContext, Verdict
from tests.drive import Script, drive

DT = 0.02


class Ramp:
    """A detector whose score grows with the silence: 'likely' after 0.2 s, done after 0.6 s."""

    name = "ramp"

    def __init__(self) -> None:
        self._checked: set[float] = set()

    def reset(self) -> None:
        self._checked = set()

    def check(self, p: PauseContext) -> Verdict | None:
        silence = round(p.now - p.speech_end, 2)
        for at, score in ((0.2, 0.6), (0.6, 0.99)):
            if silence >= at and at not in self._checked:
                self._checked.add(at)
                return Verdict(self.name, p.now, done=score > 0.9, score=score)
        return None


def no_audio(start: float, end: float) -> np.ndarray:
    return np.zeros(0, np.float32)


def controller() -> TurnController:
    return TurnController([Ramp()], TurnSettings(eager_score=0.5), no_audio)


def ticks(c: TurnController, start: float, end: float) -> list[TurnEvent]:
    out: list[TurnEvent] = []
    for k in range(round(start / DT), round(end / DT)):
        out += c.tick(k * DT)
    return [e for e in out if e.kind != "eot_check"]


def said(c: TurnController, text: str, start: float, end: float) -> list[TurnEvent]:
    events = c.speech_started(start + 0.2, start)
    c.speech_stopped(end + 0.2, end)
    parts = text.split()
    step = (end - start) / len(parts)
    words = tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(parts))
    c.final(Final(words, audio_end=end + 0.2))
    return events


def test_eager_end_then_the_real_end_on_the_same_words() -> None:
    c = controller()
    said(c, "what time is it", 0.5, 1.5)
    events = ticks(c, 1.7, 3.0)
    assert [e.kind for e in events] == ["eager_end", "turn_end"]
    assert events[0].text == "what time is it" and round(events[0].t, 2) == 1.7
    assert events[1].extra["eager_text"] == events[1].text


def test_the_user_going_on_withdraws_the_eager_end() -> None:
    c = controller()
    said(c, "my number is", 0.5, 1.5)
    assert [e.kind for e in ticks(c, 1.7, 1.8)] == ["eager_end"]
    assert [e.kind for e in said(c, "four one five", 1.9, 2.8)] == ["turn_resumed"]
    events = ticks(c, 3.0, 4.0)
    assert [e.kind for e in events] == ["eager_end", "turn_end"]
    assert events[1].text == "my number is four one five"
    assert events[1].extra["eager_text"] == events[1].text  # the second eager end, not the first


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.2, 1.0), st.floats(0.05, 1.2)), min_size=1, max_size=6))
def test_property_a_turn_end_only_carries_an_eager_text_from_after_the_last_resume(segments) -> None:
    c = controller()
    t, events = 0.5, []
    for i, (speech, pause) in enumerate(segments):
        events += said(c, f"w{i} x{i}", t, t + speech)
        t += speech
        events += ticks(c, t + 0.2, t + pause)
        t += pause
    events += ticks(c, t + 0.2, t + 1.0)
    eager: str | None = None
    for e in events:
        if e.kind == "eager_end":
            eager = e.text
        elif e.kind in ("turn_resumed", "turn_start"):
            eager = None
        elif e.kind == "turn_end":
            assert e.extra.get("eager_text") == eager
            if eager is not None:
                assert eager == e.text  # same pause: nothing was said since
            eager = None


def request(text: str, speculation: bool = False, users: int = 1) -> Frame:
    messages = [{"role": "user", "content": f"u{i}"} for i in range(users - 1)]
    messages.append({"role": "user", "content": text})
    frame = LLMContextFrame(context=LLMContext(messages=messages), speculation=speculation)  # type: ignore[arg-type]
    frame.metadata["text"] = text
    return frame


def withdrawn(reason: str) -> Frame:
    frame = EagerEndOfTurnCancelFrame()
    frame.metadata["reason"] = reason
    return frame


def replay(plan: list[tuple[float, Frame]]) -> list[dict]:
    timeline = Timeline()
    source = ScriptedReplies(["First reply.", "Second reply."], ScriptedLLMSettings(ttft_s=0.3))
    llm = LLMProcessor(source, LLMContext(), timeline, enable_direct_mode=True)
    drive(Script(plan), [llm], 3.0)
    return timeline.events


def of(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


def test_a_reply_prepared_on_the_same_finals_goes_out_at_the_real_end() -> None:
    events = replay([(1.0, request("hello", speculation=True)), (1.5, UserStoppedSpeakingFrame())])
    assert len(of(events, "speculation_used")) == 1
    first = of(events, "llm_first_token")
    assert len(first) == 1 and abs(first[0]["t"] - 1.5) < 1e-6  # ready: no first-token wait
    assert of(events, "llm_done")[0]["text"] == "First reply."


def test_a_held_reply_says_nothing_until_its_turn_ends() -> None:
    events = replay([(1.0, request("hello", speculation=True))])
    assert of(events, "speculation_started") and of(events, "llm_first_token") == []


def test_a_resumed_turn_never_lets_the_prepared_reply_through() -> None:
    plan = [
        (1.0, request("my number is", speculation=True)),
        (1.2, withdrawn("user went on")),
        (2.0, UserStoppedSpeakingFrame()),
        (2.0, request("my number is")),
    ]
    events = replay(plan)
    assert of(events, "speculation_used") == []
    assert of(events, "speculation_dropped")[0]["reason"] == "user went on"
    assert abs(of(events, "llm_first_token")[0]["t"] - 2.3) < 1e-6  # a fresh request
    assert of(events, "llm_done")[0]["text"] == "First reply."  # the dropped one used no line


def test_different_finals_at_the_end_drop_the_prepared_reply() -> None:
    plan = [
        (1.0, request("my number is", speculation=True)),
        (2.0, withdrawn("finals differ")),
        (2.0, UserStoppedSpeakingFrame()),
        (2.0, request("my number is 555")),
    ]
    events = replay(plan)
    assert of(events, "speculation_used") == []
    assert of(events, "speculation_dropped")[0]["reason"] == "finals differ"
    assert abs(of(events, "llm_first_token")[0]["t"] - 2.3) < 1e-6


class Ahead(Ramp):
    """As Ramp, but its 'likely' score is only a score taken ahead of a check."""

    def check(self, p: PauseContext) -> Verdict | None:
        v = super().check(p)
        return None if v is None else Verdict(v.detector, v.t, v.done, v.score, ahead=not v.done)


def test_a_score_taken_ahead_of_its_check_is_no_eager_end() -> None:
    c = TurnController([Ahead()], TurnSettings(eager_score=0.5), no_audio)
    said(c, "what time is it", 0.5, 1.5)
    assert [e.kind for e in ticks(c, 1.7, 3.0)] == ["turn_end"]
