"""Keeps what the caller sent: their microphone audio (up to a cap) and their keypad presses."""

from __future__ import annotations

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Timeline
from agent.media import SAMPLE_RATE, from_pcm16


class CallRecorder(FrameProcessor):
    """Passes every frame on; keeps the first ``max_s`` seconds of 16 kHz input audio, and notes
    each DTMF digit in the timeline (``dtmf``, at the media time it came in)."""

    def __init__(self, timeline: Timeline, max_s: float = 600.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._timeline = timeline
        self._room = int(max_s * SAMPLE_RATE) * 2  # bytes of 16-bit PCM
        self._pcm = bytearray()
        self._received = 0  # samples

    @property
    def audio(self) -> np.ndarray:
        """The audio kept so far (16 kHz float)."""
        return from_pcm16(bytes(self._pcm))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._received += len(frame.audio) // 2
            if len(self._pcm) < self._room:
                self._pcm += frame.audio[: self._room - len(self._pcm)]
        elif isinstance(frame, InputDTMFFrame):
            self._timeline.add("dtmf", self._received / SAMPLE_RATE, digit=str(frame.button.value))
        await self.push_frame(frame, direction)
