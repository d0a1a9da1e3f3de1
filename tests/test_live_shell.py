"""The live shell: the speaker on a transport (frames, marks, interruption) and slow stages that
lag without stalling the media clock, skip stale work and drop no final."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    TranscriptionFrame,
    TTSStartedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.asr.streaming import StreamingRecognizer, StreamingSettings
from agent.asr.streaming_stt import StreamingSTTProcessor
from agent.asr.window_decoder import WindowResult
from agent.events import Timeline, Word
from agent.frames import (
    BotHeardFrame,
    BotOutputFrame,
    MarkPlayedFrame,
    MediaClockFrame,
    PlayoutMarkFrame,
    stamp,
)
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE, from_pcm16
from agent.speaker import SpeakerProcessor
from tests.drive import TICK, Script, drive
from tests.test_speaker import tts


class Collect(FrameProcessor):
    """The end of the line: keeps what reaches it (and when, in wall seconds)."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.frames: list[Frame] = []
        self.clock_wall: list[float] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            if isinstance(frame, MediaClockFrame):
                self.clock_wall.append(time.perf_counter())
        await self.push_frame(frame, direction)

    def of(self, kind: type[Frame]) -> list[Any]:
        return [f for f in self.frames if isinstance(f, kind)]


def test_the_speaker_sends_each_slot_and_a_mark_per_word_and_interrupts_the_transport() -> None:
    # "one" 0.1-0.4, "two" 0.4-0.7, "three" 0.7-1.1. Only "one"'s mark comes back before the
    # cancel at 0.9; "two"'s echo comes after it (the transport emptying its buffer).
    plan = [
        (0.05, TTSStartedFrame()),
        tts(0.1),
        (0.5, MarkPlayedFrame(mark="1")),
        (0.9, BotOutputFrame(action="cancel")),
        (0.95, MarkPlayedFrame(mark="2")),
    ]
    timeline = Timeline()
    script, end = Script(plan), Collect()
    speaker = SpeakerProcessor(timeline, output=True, marks=True, enable_direct_mode=True)
    drive(script, [speaker, end], 1.5)
    audio = end.of(OutputAudioRawFrame)
    assert {len(from_pcm16(f.audio)) for f in audio} == {round(TICK * SAMPLE_RATE)}
    assert len(audio) == round((0.9 - 0.1) / TICK)  # 0.1 to the cancel, nothing after it
    assert [m.mark for m in end.of(PlayoutMarkFrame)] == ["1", "2"]  # "three" never ended
    assert len(end.of(InterruptionFrame)) == 1
    heard = [f for f in script.upstream if isinstance(f, BotHeardFrame)]
    assert heard[0].text == "one"  # "two" was played out, but its mark had not come back
    cut = next(e for e in timeline.events if e["type"] == "playout_cut")
    assert cut["heard"] == 1 and cut["heard_marks"] == ["1"] and cut["unplayed"] == ["2"]


def test_without_marks_a_word_counts_as_heard_once_played() -> None:
    plan = [(0.05, TTSStartedFrame()), tts(0.1), (0.9, BotOutputFrame(action="cancel"))]
    script = Script(plan)
    drive(script, [SpeakerProcessor(Timeline(), output=True, enable_direct_mode=True), Collect()], 1.2)
    assert [f.text for f in script.upstream if isinstance(f, BotHeardFrame)] == ["one two"]


class SlowWhisper:
    """A recogniser's decode that takes ``seconds`` and reads one word per second of audio."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def __call__(self, audio: np.ndarray, prompt: str) -> WindowResult:
        self.calls += 1
        time.sleep(self.seconds)
        n = int(len(audio) / SAMPLE_RATE)
        return WindowResult([Word(f"w{i}", i + 0.1, i + 0.9) for i in range(n)], 0.0, 0.0, False)


class SpeechEdges(FrameProcessor):
    """The microphone and the VAD: passes the audio on with the media clock, and says the user
    speaks from 0.3 s to ``stop`` s (VAD frames, stamped in media time)."""

    def __init__(self, stop: float) -> None:
        super().__init__(enable_direct_mode=True)
        self._stop = stop
        self._said: set[str] = set()
        self._t = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._t += len(from_pcm16(frame.audio)) / SAMPLE_RATE
            frame = MediaClockFrame(t=self._t, dt=TICK)
            await self.push_frame(frame)
        if isinstance(frame, MediaClockFrame):
            if frame.t >= 0.3 and "start" not in self._said:
                self._said.add("start")
                await self.push_frame(stamp(VADUserStartedSpeakingFrame(), frame.t))
            if frame.t >= self._stop and "stop" not in self._said:
                self._said.add("stop")
                stop = stamp(VADUserStoppedSpeakingFrame(), frame.t)
                stop.metadata["edge"] = frame.t - 0.2
                await self.push_frame(stop)


def test_a_slow_recogniser_lags_and_skips_readings_but_never_stalls_the_clock_or_drops_its_flush() -> None:
    decode = SlowWhisper(0.45)  # more than two readings' worth of audio (0.2 s each) per reading
    settings = StreamingSettings(chunk_s=0.2, min_decode_s=0.5)
    timeline = Timeline()
    stt = StreamingSTTProcessor(
        StreamingRecognizer(decode, settings), timeline, live=True, enable_direct_mode=True
    )
    end = Collect()

    async def go() -> None:
        async with Lockstep([SpeechEdges(stop=4.0), stt, end]) as line:
            for _ in range(round(6.0 / TICK)):  # in real time, as a call
                began = time.perf_counter()
                await line.feed(np.zeros(round(TICK * SAMPLE_RATE), np.float32))
                await asyncio.sleep(max(0.0, TICK - (time.perf_counter() - began)))

    asyncio.run(go())
    gaps = np.diff(end.clock_wall)
    assert gaps.max() < 0.2  # no tick waited for a 0.3 s decode
    lags = [e for e in timeline.events if e["type"] == "stage_lag"]
    assert sum(e["skipped"] for e in lags) > 0  # behind: intermediate readings skipped
    assert all(e["lag_ms"] >= 400 for e in lags if e["compute_ms"] > 400)  # the lag is real and shown
    flushes = [e for e in timeline.events if e["type"] == "asr_flush"]
    assert len(flushes) == 1 and flushes[0]["audio_end"] == 4.0  # the VAD stop, finalised
    finals = [f.result for f in end.of(TranscriptionFrame)]
    assert " ".join(f.text for f in finals).split()[:3] == ["w0", "w1", "w2"]
