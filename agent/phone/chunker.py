"""Cuts a transport's input audio into fixed 20 ms frames: the media clock ticks evenly.

A transport delivers audio in whatever pieces its network and resampler make (Twilio's 20 ms of
8 kHz μ-law, resampled to 16 kHz, comes out of a stream resampler in uneven lumps). The core
wants the ticks a replay has: every frame the same length, so the echo canceller gets whole
10 ms blocks and the speaker answers each 20 ms of microphone audio with 20 ms of its own.
"""

from __future__ import annotations

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.media import SAMPLE_RATE


class FixedChunks(FrameProcessor):
    """Re-frames 16 kHz mono input audio into ``chunk_ms`` frames (the remainder waits)."""

    def __init__(self, chunk_ms: int = 20, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._bytes = SAMPLE_RATE * chunk_ms // 1000 * 2
        self._pending = bytearray()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
            return
        if frame.sample_rate != SAMPLE_RATE or frame.num_channels != 1:
            raise ValueError(f"input audio must be {SAMPLE_RATE} Hz mono, got {frame.sample_rate} Hz")
        self._pending += frame.audio
        while len(self._pending) >= self._bytes:
            piece = bytes(self._pending[: self._bytes])
            del self._pending[: self._bytes]
            await self.push_frame(InputAudioRawFrame(audio=piece, sample_rate=SAMPLE_RATE, num_channels=1))
