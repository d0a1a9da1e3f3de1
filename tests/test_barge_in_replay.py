"""Barge-in end to end with the real models: stop fast, keep the heard part, ignore backchannels
and echo, resume after a false alarm."""

from __future__ import annotations

import asyncio

import numpy as np

from agent.media import SAMPLE_RATE
from agent.replay.metrics import score
from agent.replay.scenario import load_scenario

INTERRUPT = """
description: The user cuts in early, the bot must stop and keep only what was heard.
turns:
  - user: Can you book me a table for four tomorrow evening?
    agent: >-
      Sure thing. I can offer you a table at seven in the main room, or at half past eight on the
      terrace, which is quieter but can get a little cold after sunset.
  - user: No, stop. I meant next Friday.
    start: {after_bot_start: 2.0}
    agent: Next Friday then.
"""

BACKCHANNEL = """
description: An "mm-hmm" over an echo; the bot pauses at most, and resumes where it was.
echo: {delay_ms: 150, level_db: -18}
turns:
  - user: How do I reset my password?
    agent: >-
      First open the settings page and choose security. Then press the button that says reset
      password, and you will get an email with a link.
  - user: Mm-hmm.
    kind: backchannel
    start: {after_bot_start: 2.0}
  - user: Thanks.
    agent: You are welcome.
"""


def run(write, replayer, name: str, text: str):
    scenario = load_scenario(write(name, text))
    return asyncio.run(replayer.run(scenario))


def of(run, kind: str) -> list[dict]:
    return [e for e in run.timeline.events if e["type"] == kind]


def test_interruption_stops_the_bot_and_keeps_only_the_heard_words(write, replayer) -> None:
    r = run(write, replayer, "interrupt.yaml", INTERRUPT)
    cut_in = r.truth[1]
    pause = of(r, "bot_paused")[0]
    assert cut_in.start < pause["t"] < cut_in.start + 0.3  # within a few VAD windows of the onset
    # Silence from the pause on: nothing more of that reply is played.
    cancel = of(r, "barge_in")[0]
    after = r.bot_audio[round(pause["t"] * SAMPLE_RATE) : round(cancel["t"] * SAMPLE_RATE)]
    assert np.abs(after).max(initial=0.0) == 0.0

    heard = of(r, "bot_interrupted")[0]["heard"]
    reply = r.scenario.turns[0].agent or ""
    assert heard and reply.split()[: len(heard.split())] == heard.split()  # a prefix of the reply
    assert len(heard.split()) < len(reply.split())
    stop = next(e for e in of(r, "bot_audio_stop") if e["interrupted"])
    assert all(w["end"] <= pause["t"] + 1e-6 for w in stop["words"])  # every heard word was played whole
    # The conversation keeps exactly the heard part, marked, and the user's words as the next turn.
    assistant = [m for m in r.context if m["role"] == "assistant"]
    assert assistant[0] == {"role": "assistant", "content": heard, "interrupted": True}
    users = [m["content"] for m in r.context if m["role"] == "user"]
    assert len(users) == 2 and "friday" in users[1].lower()

    figures = score(r.timeline.events, r.truth)
    assert figures["missed_barge_ins"] == 0 and figures["false_barge_ins"] == 0
    assert figures["barge_in_stop_ms"]["count"] == 1


def test_backchannel_over_echo_resumes_from_the_cut_word(write, replayer) -> None:
    r = run(write, replayer, "backchannel.yaml", BACKCHANNEL)
    assert of(r, "barge_in") == []  # never cancelled
    pauses, resumes = of(r, "bot_paused"), of(r, "bot_resumed")
    assert len(pauses) == len(resumes)
    first_stop = of(r, "bot_audio_stop")[0]
    reply = r.scenario.turns[0].agent or ""
    assert first_stop["text"].split() == reply.split()  # every word was said, none twice
    assert not any(m.get("interrupted") for m in r.context)
    # The "mm-hmm" got no reply: the conversation holds the two real turns only.
    users = [m["content"] for m in r.context if m["role"] == "user"]
    assert len(users) == 2 and "thank" in users[1].lower()
    figures = score(r.timeline.events, r.truth)
    assert figures["false_barge_ins"] == 0
    assert figures["resumed_after_false_alarm"] == len(resumes)
