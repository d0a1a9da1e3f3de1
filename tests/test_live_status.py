"""The live view (web page, terminal status line): states, finals vs partial, latencies, first on
plain events, then on the events a real replay recorded."""

from __future__ import annotations

import asyncio

from agent.live_status import LiveStatus
from agent.replay.scenario import load_scenario


def ev(t: float, type: str, **fields: object) -> dict[str, object]:
    return {"t": t, "type": type, **fields}


def states(events: list[dict[str, object]]) -> list[str]:
    """The states the view went through (each change once)."""
    status, seen = LiveStatus(), ["listening"]
    for e in events:
        status.feed(e)
        if status.state != seen[-1]:
            seen.append(status.state)
    return seen


TURN = [
    ev(1.0, "vad_start", onset=0.9),
    ev(1.0, "turn_start", index=0),
    ev(1.4, "partial", text="what time"),
    ev(1.9, "final", text="What time"),
    ev(1.9, "partial", text="does it"),
    ev(2.5, "vad_stop", speech_end=2.3),
    ev(2.6, "final", text="does it open?"),
    ev(2.7, "turn_end", text="What time does it open?", speech_end=2.3, index=0),
    ev(3.0, "llm_done", text="At nine.", cancelled=False),
    ev(3.3, "bot_audio_start"),
    ev(4.1, "bot_audio_stop", text="At nine.", interrupted=False),
]


def test_a_plain_turn_goes_listening_speaking_thinking_answering_listening() -> None:
    expected = ["listening", "user speaking", "listening", "thinking", "bot speaking", "listening"]
    assert states(TURN) == expected
    status = LiveStatus()
    status.feed_all(TURN)
    user, bot = status.lines
    assert (user.who, user.text, user.done) == ("user", "What time does it open?", True)
    assert user.eot_ms == 400 and user.voice_to_voice_ms == 1000  # 2.7 - 2.3, 3.3 - 2.3
    assert (bot.who, bot.text, bot.heard) == ("bot", "At nine.", None)
    assert "end of turn 400 ms, voice to voice 1000 ms" in status.line()


def test_finals_only_grow_and_the_partial_stays_apart() -> None:
    status = LiveStatus()
    finals: list[str] = []
    for e in TURN[:7]:
        status.feed(e)
        text = status.lines[-1].text if status.lines else ""
        assert not finals or text.startswith(finals[-1]), "a final changed"
        finals.append(text)
        if e["type"] == "partial":
            assert status.partial == e["text"] and text == (finals[-2] if len(finals) > 1 else "")
    assert status.lines[-1].text == "What time does it open?" and status.partial == ""
    status = LiveStatus()
    status.feed_all(TURN[:5])
    assert status.line().endswith("What time [does it]")


def test_an_interruption_keeps_the_heard_words_and_a_false_alarm_resumes() -> None:
    cut = [
        *TURN[:10],
        ev(3.8, "bot_paused"),
        ev(4.0, "vad_start"),
        ev(4.3, "final", text="Mm-hmm."),
        ev(4.3, "turn_discarded", index=1),
        ev(4.3, "bot_resumed"),
        ev(5.0, "bot_paused"),
        ev(5.5, "final", text="No, wait."),
        ev(5.5, "bot_audio_stop", text="At", interrupted=True),
        ev(5.5, "bot_interrupted", heard="At"),
        ev(6.2, "turn_end", text="No, wait.", speech_end=5.9, index=1),
    ]
    assert states(cut) == [
        "listening", "user speaking", "listening", "thinking", "bot speaking",
        "interrupted", "resumed", "interrupted", "thinking",
    ]  # fmt: skip
    status = LiveStatus()
    status.feed_all(cut[:14])
    assert status.lines[-1].discarded and status.lines[-1].text == "Mm-hmm."
    status.feed_all(cut[14:])
    assert [line.who for line in status.lines] == ["user", "bot", "user"]
    assert status.lines[1].heard == "At"
    assert status.lines[2].text == "No, wait." and not status.lines[2].discarded


SCENARIO = """
description: A question, an "mm-hmm" over the answer, then a real interruption.
turns:
  - user: How do I reset my password?
    agent: >-
      First open the settings page and choose security. Then press the button that says reset
      password, and you will get an email with a link. It can take a few minutes to arrive, so
      please check your spam folder as well.
  - user: Mm-hmm.
    kind: backchannel
    start: {after_bot_start: 1.5}
  - user: Sorry, which page did you say?
    start: {after_bot_start: 6.0}
    agent: The settings page.
"""


def test_the_view_follows_a_recorded_replay(replayer, write) -> None:
    """Events recorded by the real pipeline: every state a person sees appears, in an order the
    conversation allows, and the view's lines match the timeline's turns and replies."""
    run = asyncio.run(replayer.run(load_scenario(write("live.yaml", SCENARIO))))
    events = run.timeline.events  # in the order the pipeline added them
    seen = states(events)
    everything = {"listening", "user speaking", "thinking", "bot speaking", "interrupted", "resumed"}
    assert set(seen) == everything, seen
    assert seen[seen.index("resumed") - 1] == "interrupted" and seen[-1] == "listening", seen
    status = LiveStatus()
    status.feed_all(events)
    turns = [e for e in events if e["type"] == "turn_end"]
    users = [line for line in status.lines if line.who == "user" and line.done and not line.discarded]
    assert [u.text for u in users] == [e["text"] for e in turns]
    assert all(u.eot_ms is not None and u.eot_ms >= 0 for u in users)
    cut = next(e for e in events if e["type"] == "bot_interrupted")
    assert any(line.who == "bot" and line.heard == cut["heard"] for line in status.lines)
