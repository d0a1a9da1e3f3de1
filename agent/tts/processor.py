"""Pipecat TTS processor: LLM text in, bot audio out, one sentence at a time.

A sentence is synthesised as soon as the LLM stream completes it, so the first audio does not
wait for the whole reply. Each ``TTSAudioRawFrame`` is 16 kHz mono and carries its word times
(seconds from the frame's first sample) in ``metadata["words"]``.

In a replay synthesis runs in the frame's own turn, so the frames that follow it wait: that costs
no media time, the audio is stamped with the media time its sentence was complete, and the
compute time goes to the live-time figures. Live (:mod:`agent.offload`), sentences are
synthesised one after another in this stage's thread while the media clock runs on; each one's
audio is stamped with the media time it was ready, and the frames that end the reply
(``TTSStoppedFrame``) wait for the audio before them. A cancel (barge-in) drops the sentences not
yet spoken at once, including the one being synthesised.
"""

from __future__ import annotations

import re
from typing import Any

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Timeline
from agent.frames import BotOutputFrame, MediaClockFrame, live_time, media_time, stamp
from agent.latency import Stage
from agent.media import SAMPLE_RATE, to_pcm16
from agent.offload import Done, Inbox, Jobs, record_lag
from agent.tts.piper_voice import PiperSynth, Synthesis

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class TTSProcessor(FrameProcessor):
    """Synthesises the bot's replies sentence by sentence with the bundled Piper voice."""

    def __init__(self, synth: PiperSynth, timeline: Timeline, live: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._synth = synth
        self._timeline = timeline
        self._text = ""
        self._started = False
        self._generation = 0  # bumped by a cancel: a synthesis under way then is not spoken
        self._now = 0.0
        self.stage = Stage("tts")
        """Live-time model of this processor\'s compute (see agent.latency)."""
        self._inbox: Inbox[Synthesis] = Inbox(Jobs("tts", live), self._apply, self._finished)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self._text = ""
            self._inbox.put("reset")
        elif isinstance(frame, LLMTextFrame):
            self._text += frame.text
            *complete, self._text = _SENTENCE_END.split(self._text)
            for sentence in complete:
                self._say(sentence, frame)
        elif isinstance(frame, BotOutputFrame) and frame.action == "cancel":
            await self._cancel(frame)
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._text.strip() and not frame.metadata.get("cancelled"):
                self._say(self._text, frame)
            self._text = ""
            self._inbox.put("stopped", media_time(frame), live_time(frame))
        elif isinstance(frame, MediaClockFrame):
            self._now = frame.t
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self._inbox.jobs.close()
        await self._inbox.drain()
        await self.push_frame(frame, direction)

    def _say(self, sentence: str, cause: Frame) -> None:
        if sentence.strip():
            self._inbox.put("say", sentence.strip(), media_time(cause), live_time(cause))

    async def _cancel(self, frame: Frame) -> None:
        """The user cut in: say nothing more of this reply."""
        self._text = ""
        self._generation += 1
        self._inbox.clear()
        if self._started:
            self._started = False
            await self.push_frame(stamp(TTSStoppedFrame(), media_time(frame), live_time(frame)))

    async def _apply(self, item: tuple[Any, ...]) -> None:
        if item[0] == "reset":
            self._started = False
        elif item[0] == "say":
            _, sentence, t, live = item
            tag = (self._generation, sentence, t, live)
            await self._inbox.run(lambda: self._synth.synthesize(sentence), tag)
        elif item[0] == "stopped" and self._started:
            t, live = self._when(item[1], item[2])
            await self.push_frame(stamp(TTSStoppedFrame(), t, live))

    def _when(self, t: float, live: float) -> tuple[float, float]:
        """Live, what comes out now is stamped now."""
        if self._inbox.jobs.live:
            return max(t, self._now), max(t, self._now)
        return t, live

    async def _finished(self, done: Done[Synthesis]) -> None:
        generation, sentence, t, ready_live = done.tag
        if generation != self._generation:
            return  # cancelled while it was being synthesised
        if self._inbox.jobs.live:  # ready now, not when it was asked for
            asked, (t, ready_live) = t, self._when(t, ready_live)
            record_lag(self._timeline, self.stage.name, asked, t, done)
        live = self.stage.finish(ready_live, done.compute_s)
        if not self._started:
            self._started = True
            self._timeline.add("tts_first_audio", t, live, text=sentence)
            await self.push_frame(stamp(TTSStartedFrame(), t, live))
        synthesis = done.value
        out = TTSAudioRawFrame(audio=to_pcm16(synthesis.audio), sample_rate=SAMPLE_RATE, num_channels=1)
        out.metadata["words"] = synthesis.words
        out.metadata["text"] = sentence
        await self.push_frame(stamp(out, t, live))
