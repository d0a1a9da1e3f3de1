"""Keeps what the caller's microphone sent, for the call's report (up to a cap)."""

from __future__ import annotations

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media import SAMPLE_RATE, from_pcm16


class MicRecorder(FrameProcessor):
    """Passes every frame on; keeps the first ``max_s`` seconds of 16 kHz input audio."""

    def __init__(self, max_s: float = 600.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._room = int(max_s * SAMPLE_RATE) * 2  # bytes of 16-bit PCM
        self._pcm = bytearray()

    @property
    def audio(self) -> np.ndarray:
        """The audio kept so far (16 kHz float)."""
        return from_pcm16(bytes(self._pcm))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and len(self._pcm) < self._room:
            self._pcm += frame.audio[: self._room - len(self._pcm)]
        await self.push_frame(frame, direction)
