"""The speaker on the media clock: pause (rewinding to the cut word), resume, cancel, heard words."""

from __future__ import annotations

from typing import Any

import numpy as np
from pipecat.frames.frames import Frame, TTSAudioRawFrame, TTSStartedFrame

from agent.events import Timeline, Word
from agent.frames import BotHeardFrame, BotOutputFrame
from agent.media import SAMPLE_RATE, to_pcm16
from agent.speaker import SpeakerProcessor, estimate_words
from tests.drive import Script, drive

LEVELS = {"one": 0.1, "two": 0.2, "three": 0.3}
WORDS = (Word("one", 0.0, 0.3), Word("two", 0.3, 0.6), Word("three", 0.6, 1.0))


def sentence() -> tuple[np.ndarray, tuple[Word, ...]]:
    """One second of 'audio' whose samples tell which word they belong to."""
    audio = np.concatenate([np.full(round((w.end - w.start) * SAMPLE_RATE), LEVELS[w.text]) for w in WORDS])
    return audio.astype(np.float32), WORDS


def tts(at: float) -> tuple[float, Frame]:
    audio, words = sentence()
    frame = TTSAudioRawFrame(audio=to_pcm16(audio), sample_rate=SAMPLE_RATE, num_channels=1)
    frame.metadata["words"] = words
    return at, frame


def run(plan: list[tuple[float, Frame]], seconds: float) -> tuple[SpeakerProcessor, Script, Timeline]:
    timeline = Timeline()
    script = Script(plan)
    speaker = SpeakerProcessor(timeline, enable_direct_mode=True)
    drive(script, [speaker], seconds)
    return speaker, script, timeline


def level(speaker: SpeakerProcessor, t: float) -> float:
    return round(float(speaker.output(t, t + 0.005).mean()), 2)


def events(timeline: Timeline, kind: str) -> list[dict[str, Any]]:
    return [e for e in timeline.events if e["type"] == kind]


def test_plays_to_the_end_and_records_the_words_heard() -> None:
    speaker, _, timeline = run([tts(0.1)], 1.5)
    assert level(speaker, 0.15) == 0.1 and level(speaker, 0.5) == 0.2 and level(speaker, 1.0) == 0.3
    stop = events(timeline, "bot_audio_stop")[0]
    assert stop["text"] == "one two three" and stop["interrupted"] is False
    assert abs(stop["t"] - 1.1) < 1e-6


def test_pause_goes_silent_at_its_time_and_resume_repeats_the_cut_word() -> None:
    # Bot starts at 0.1: "one" 0.1-0.4, "two" 0.4-0.7. Paused at 0.5, inside "two".
    plan = [tts(0.1), (0.5, BotOutputFrame(action="pause")), (1.0, BotOutputFrame(action="resume"))]
    speaker, _, timeline = run(plan, 2.0)
    assert level(speaker, 0.45) == 0.2  # "two" began ...
    assert level(speaker, 0.51) == 0.0 and level(speaker, 0.9) == 0.0  # ... and stopped at 0.5
    assert level(speaker, 1.01) == 0.2  # resumed from the start of "two"
    assert level(speaker, 1.29) == 0.2 and level(speaker, 1.31) == 0.3
    stop = events(timeline, "bot_audio_stop")[0]
    assert stop["text"] == "one two three"
    assert abs(stop["t"] - 1.7) < 1e-6
    assert [e["t"] for e in events(timeline, "bot_paused")] == [0.5]
    assert [e["t"] for e in events(timeline, "bot_resumed")] == [1.0]


def test_cancel_reports_only_the_words_heard_whole() -> None:
    plan = [tts(0.1), (0.5, BotOutputFrame(action="pause")), (0.8, BotOutputFrame(action="cancel"))]
    speaker, script, timeline = run(plan, 2.0)
    heard = [f for f in script.upstream if isinstance(f, BotHeardFrame)]
    assert [h.text for h in heard] == ["one"]
    assert level(speaker, 1.2) == 0.0  # nothing queued survives a cancel
    stop = events(timeline, "bot_audio_stop")[0]
    assert stop["interrupted"] is True and abs(stop["t"] - 0.8) < 1e-6


def test_heard_words_of_one_reply_span_its_utterances() -> None:
    plan: list[tuple[float, Frame]] = [(0.05, TTSStartedFrame()), tts(0.1), tts(1.5)]
    plan.append((1.85, BotOutputFrame(action="cancel")))  # "one" of the second sentence heard
    _, script, timeline = run(plan, 2.5)
    assert len(events(timeline, "bot_audio_start")) == 2
    heard = [f for f in script.upstream if isinstance(f, BotHeardFrame)]
    assert [h.text for h in heard] == ["one two three one"]


def test_word_times_are_estimated_when_the_tts_gives_none() -> None:
    words = estimate_words("a bb ccc", 1.2)
    assert [w.text for w in words] == ["a", "bb", "ccc"]
    assert abs(words[0].end - 0.2) < 1e-9 and abs(words[-1].end - 1.2) < 1e-9
