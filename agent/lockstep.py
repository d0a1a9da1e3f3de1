"""Runs Pipecat processors in lockstep with the media clock.

``feed(chunk)`` queues one chunk of microphone audio and returns once the chunk's
``MediaClockFrame`` has reached the end of the pipeline: with every processor in direct mode,
all the work the chunk caused is done by then, so what happens depends on media time only::

    feed(chunk k) ──► processors ... ──► MediaClockFrame(t_k) reached ──► feed(chunk k+1)

Used by the scenario replays and the benchmarks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

import numpy as np
from pipecat.frames.frames import EndFrame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.frames import MediaClockFrame
from agent.media import SAMPLE_RATE, to_pcm16

TICK_TIMEOUT_S = 300.0
"""Wall seconds one chunk may take before the pipeline is declared stuck."""


class PipelineFailed(RuntimeError):
    """A processor failed or the pipeline stalled (one line)."""


class Lockstep:
    """An async context manager around a pipeline worker fed one chunk at a time."""

    def __init__(self, processors: Sequence[FrameProcessor]) -> None:
        self._worker = PipelineWorker(
            Pipeline(list(processors)),
            params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
            idle_timeout_secs=None,
            enable_rtvi=False,
            enable_turn_tracking=False,
            check_dangling_tasks=False,
        )
        self._worker.set_reached_downstream_filter((MediaClockFrame,))
        self._reached: asyncio.Queue[float | BaseException] = asyncio.Queue()
        self._worker.add_event_handler("on_frame_reached_downstream", self._on_reached)
        self._worker.add_event_handler("on_pipeline_error", self._on_error)
        self._running: asyncio.Task[None] | None = None
        self.t = 0.0
        """Media time fed so far (seconds)."""

    async def _on_reached(self, _worker: object, frame: MediaClockFrame) -> None:
        self._reached.put_nowait(frame.t)

    async def _on_error(self, _worker: object, frame: object) -> None:
        self._reached.put_nowait(PipelineFailed(f"pipeline error: {getattr(frame, 'error', frame)}"))

    async def __aenter__(self) -> Lockstep:
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self._worker)
        self._running = asyncio.create_task(runner.run())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._worker.queue_frame(EndFrame())
        if self._running is not None:
            await self._running

    async def feed(self, chunk: np.ndarray | bytes) -> None:
        """Push one chunk of 16 kHz audio (float, or the 16-bit PCM itself, sent as it is) and
        wait until the pipeline is done with it."""
        pcm = chunk if isinstance(chunk, bytes) else to_pcm16(chunk)
        frame = InputAudioRawFrame(audio=pcm, sample_rate=SAMPLE_RATE, num_channels=1)
        await self._worker.queue_frame(frame)
        try:
            got = await asyncio.wait_for(self._reached.get(), TICK_TIMEOUT_S)
        except TimeoutError:
            raise PipelineFailed(f"pipeline stalled at media time {self.t:.2f} s") from None
        if isinstance(got, BaseException):
            raise got
        self.t += len(pcm) // 2 / SAMPLE_RATE
