"""Keeps what the caller sent: their microphone audio (up to a cap) and their keypad presses."""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameDirection

from agent.events import Timeline
from agent.media import SAMPLE_RATE
from agent.tap import AudioTap


class CallRecorder(AudioTap):
    """Passes every frame on; keeps the first ``max_s`` seconds of 16 kHz input audio, and notes
    each DTMF digit in the timeline (``dtmf``, at the media time it came in)."""

    def __init__(self, timeline: Timeline, max_s: float = 600.0, **kwargs: object) -> None:
        super().__init__(max_s, **kwargs)
        self._timeline = timeline

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, InputDTMFFrame):
            self._timeline.add("dtmf", self.received / SAMPLE_RATE, digit=str(frame.button.value))
        await super().process_frame(frame, direction)
