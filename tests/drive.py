"""Test helper: drive processors with scripted frames on the media clock."""

from __future__ import annotations

import asyncio

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.frames import MediaClockFrame, stamp
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE, from_pcm16

TICK = 0.02


class Script(FrameProcessor):
    """Before the speaker: sends scripted frames at their media times, then the tick's clock."""

    def __init__(self, plan: list[tuple[float, Frame]]) -> None:
        super().__init__(enable_direct_mode=True)
        self._plan = sorted(plan, key=lambda p: p[0])
        self._t = 0.0
        self.upstream: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.UPSTREAM:
            self.upstream.append(frame)
            return
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
            return
        start = self._t
        self._t += len(from_pcm16(frame.audio)) / SAMPLE_RATE
        while self._plan and self._plan[0][0] < self._t - 1e-9:
            at, out = self._plan.pop(0)
            await self.push_frame(stamp(out, at))
        await self.push_frame(MediaClockFrame(t=self._t, dt=self._t - start))


def drive(script: Script, processors: list[FrameProcessor], seconds: float) -> None:
    """Feed silent ticks through [script, *processors] for ``seconds`` of media time."""

    async def go() -> None:
        async with Lockstep([script, *processors]) as line:
            for _ in range(round(seconds / TICK)):
                await line.feed(np.zeros(round(TICK * SAMPLE_RATE), np.float32))

    asyncio.run(go())
