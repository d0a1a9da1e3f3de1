"""A pass-through processor that keeps the 16-bit PCM of the audio frames going by.

Where it sits says what it keeps: at the head of a phone pipeline, what the caller sent; after
the echo canceller in a replay, what the VAD, the recogniser and the turn detectors heard (the
canceller's output replaces the microphone while the bot may be echoing, see :mod:`agent.echo`),
so that ``agent eot-eval`` scores each pause on exactly those samples."""

from __future__ import annotations

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media import SAMPLE_RATE, from_pcm16


class AudioTap(FrameProcessor):
    """Passes every frame on; keeps the first ``max_s`` seconds of 16 kHz input audio (all of
    it when None)."""

    def __init__(self, max_s: float | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._room = None if max_s is None else round(max_s * SAMPLE_RATE) * 2  # bytes of PCM
        self._pcm = bytearray()
        self.received = 0
        """Samples seen, kept or not."""

    @property
    def audio(self) -> np.ndarray:
        """The audio kept so far (16 kHz float)."""
        return from_pcm16(bytes(self._pcm))

    @property
    def pcm(self) -> bytes:
        """The same, as the 16-bit PCM the frames carried."""
        return bytes(self._pcm)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.received += len(frame.audio) // 2
            room = len(frame.audio) if self._room is None else self._room - len(self._pcm)
            self._pcm += frame.audio[: max(0, room)]
        await self.push_frame(frame, direction)
