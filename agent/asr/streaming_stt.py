"""Pipecat STT processor around :class:`StreamingRecognizer`: partials for display, finals to act on.

In: user audio, VAD start/stop, the media clock. Out: ``InterimTranscriptionFrame`` with the
current partial (display only), ``TranscriptionFrame`` with newly committed words (``result`` is
a :class:`~agent.events.Final` with word times in media seconds), and ``AsrFlushedFrame`` when the
VAD stop has been finalised. Decodes run on the media clock (every ``chunk_s`` of speech); their
compute time goes to the live-time figures only. A call that ends while the user is still speaking
(or before a stop has settled) has its tail made final ahead of the ``EndFrame``, as a cloud
provider's close does: the caller's last words are not dropped.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.asr.streaming import StreamingRecognizer, Update
from agent.events import Final, Timeline
from agent.frames import AsrFlushedFrame, MediaClockFrame, live_time, media_time, stamp
from agent.latency import Stage, Stopwatch
from agent.media import from_pcm16


class StreamingSTTProcessor(FrameProcessor):
    """Streams local Whisper with LocalAgreement-2; every final carries its word times."""

    def __init__(self, recognizer: StreamingRecognizer, timeline: Timeline, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._asr = recognizer
        self._timeline = timeline
        self.stage = Stage("asr")
        """Live-time model of this processor's compute (see agent.latency)."""
        self._vad_live = 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._asr.append(from_pcm16(frame.audio))
        elif isinstance(frame, EndFrame):
            t = self._asr.end_time
            update, live = await self._run(lambda: self._asr.finish(t), max(t, self._vad_live))
            await self._emit(update, t, live)
        await self.push_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._vad_live = live_time(frame)
            self._asr.speech_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            t = media_time(frame)
            self._vad_live = live_time(frame)
            self._asr.speech_stopped(t, float(frame.metadata.get("edge", t)))
            await self._maybe_flush(t)
        elif (
            isinstance(frame, MediaClockFrame)
            and not await self._maybe_flush(frame.t)
            and self._asr.due(frame.t)
        ):
            update, live = await self._run(self._asr.update, max(frame.t, self._vad_live))
            await self._emit(update, frame.t, live)

    async def _maybe_flush(self, t: float) -> bool:
        """Finalise the tail once the settle time after a VAD stop is over."""
        edge = self._asr.flush_due(t)
        if edge is None:
            return False
        update, live = await self._run(lambda: self._asr.finish(edge), max(t, self._vad_live))
        await self._emit(update, t, live)
        self._timeline.add("asr_flush", t, live, audio_end=round(t, 3))
        await self.push_frame(stamp(AsrFlushedFrame(audio_end=t), t, live))
        return True

    async def _run(self, step: object, ready_live: float) -> tuple[Update, float]:
        watch = Stopwatch()
        with watch.running():
            update: Update = await asyncio.to_thread(step)  # type: ignore[arg-type]
        return update, self.stage.finish(ready_live, watch.seconds)

    async def _emit(self, update: Update, t: float, live: float) -> None:
        if update.committed:
            final = Final(tuple(update.committed), audio_end=update.committed[-1].end)
            self._timeline.add(
                "final",
                t,
                live,
                text=final.text,
                words=[w.as_dict() for w in final.words],
                audio_end=round(final.audio_end, 3),
            )
            out = TranscriptionFrame(
                text=final.text, user_id="user", timestamp=f"{t:.3f}", result=final, finalized=True
            )
            await self.push_frame(stamp(out, t, live))
        if update.partial:
            text = " ".join(w.text for w in update.partial)
            self._timeline.add("partial", t, live, text=text)
            await self.push_frame(
                stamp(InterimTranscriptionFrame(text=text, user_id="user", timestamp=f"{t:.3f}"), t, live)
            )
