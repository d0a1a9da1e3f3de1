"""Pipecat TTS processor: LLM text in, bot audio out, one sentence at a time.

A sentence is synthesised as soon as the LLM stream completes it, so the first audio does not
wait for the whole reply. Each ``TTSAudioRawFrame`` is 16 kHz mono, stamped with the media time
its sentence was complete, and carries its word times (seconds from the frame's first sample) in
``metadata["words"]``. Synthesis runs in the frame's own turn, so the frames that follow it wait:
in a replay that costs no media time, and its compute time goes to the live-time figures.
"""

from __future__ import annotations

import asyncio
import re

from pipecat.frames.frames import (
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
from agent.frames import BotOutputFrame, live_time, media_time, stamp
from agent.latency import Stage, Stopwatch
from agent.media import SAMPLE_RATE, to_pcm16
from agent.tts.piper_voice import PiperSynth

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class TTSProcessor(FrameProcessor):
    """Synthesises the bot's replies sentence by sentence with the bundled Piper voice."""

    def __init__(self, synth: PiperSynth, timeline: Timeline, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._synth = synth
        self._timeline = timeline
        self._text = ""
        self._started = False
        self.stage = Stage("tts")
        """Live-time model of this processor\'s compute (see agent.latency)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMFullResponseStartFrame):
            self._text, self._started = "", False
        elif isinstance(frame, LLMTextFrame):
            self._text += frame.text
            *complete, self._text = _SENTENCE_END.split(self._text)
            for sentence in complete:
                await self._speak(sentence, frame)
        elif isinstance(frame, BotOutputFrame) and frame.action == "cancel":
            self._text = ""  # the user cut in: say nothing more of this reply
            if self._started:
                self._started = False
                await self.push_frame(stamp(TTSStoppedFrame(), media_time(frame), live_time(frame)))
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._text.strip() and not frame.metadata.get("cancelled"):
                await self._speak(self._text, frame)
            self._text = ""
            if self._started:
                await self.push_frame(stamp(TTSStoppedFrame(), media_time(frame), live_time(frame)))
        await self.push_frame(frame, direction)

    async def _speak(self, sentence: str, cause: Frame) -> None:
        sentence = sentence.strip()
        if not sentence:
            return
        t = media_time(cause)
        watch = Stopwatch()
        with watch.running():
            synthesis = await asyncio.to_thread(self._synth.synthesize, sentence)
        live = self.stage.finish(live_time(cause), watch.seconds)
        if not self._started:
            self._started = True
            self._timeline.add("tts_first_audio", t, live, text=sentence)
            await self.push_frame(stamp(TTSStartedFrame(), t, live))
        out = TTSAudioRawFrame(audio=to_pcm16(synthesis.audio), sample_rate=SAMPLE_RATE, num_channels=1)
        out.metadata["words"] = synthesis.words
        out.metadata["text"] = sentence
        await self.push_frame(stamp(out, t, live))
