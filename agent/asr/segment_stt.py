"""Segment-level speech recognition: transcribe each VAD speech segment once it stops.

Every result is final (it is never revised). The recogniser sees the audio from shortly before
the VAD onset to the VAD stop; words are stamped in media time::

    audio   ....[pre-roll|====== speech ======|stop_secs]....
                ^seg_start                     ^VAD stop: transcribe, push final + flush

A segment longer than ``max_segment_s`` is cut and transcribed while the user keeps talking, so
Whisper's 30 s window is never exceeded.
"""

from __future__ import annotations

import asyncio

from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pydantic import BaseModel, Field

from agent.asr.whisper_model import WhisperRecognizer
from agent.events import Final, Timeline
from agent.frames import AsrFlushedFrame, MediaClockFrame, live_time, media_time, stamp
from agent.latency import Stage, Stopwatch
from agent.media import AudioHistory, from_pcm16


class SegmentSttSettings(BaseModel):
    """Segment-level recogniser knobs (seconds)."""

    pre_roll_s: float = Field(0.3, description="audio kept before the VAD onset")
    max_segment_s: float = Field(20.0, description="longest segment sent to Whisper at once")
    history_s: float = Field(40.0, description="audio kept in memory")


class SegmentSTTProcessor(FrameProcessor):
    """Pipecat STT processor: final transcripts of whole VAD segments, with word times."""

    def __init__(
        self,
        recognizer: WhisperRecognizer,
        settings: SegmentSttSettings,
        timeline: Timeline,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._recognizer = recognizer
        self._settings = settings
        self._timeline = timeline
        self._history = AudioHistory(settings.history_s)
        self._segment_start: float | None = None
        self.stage = Stage("asr")
        """Live-time model of this processor\'s compute (see agent.latency)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._history.append(from_pcm16(frame.audio))
            await self.push_frame(frame, direction)
            return
        await self.push_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            onset = float(frame.metadata.get("edge", media_time(frame)))
            self._segment_start = max(0.0, onset - self._settings.pre_roll_s)
        elif isinstance(frame, VADUserStoppedSpeakingFrame) and self._segment_start is not None:
            await self._finalize(media_time(frame), live_time(frame))
            self._segment_start = None
        elif (
            isinstance(frame, MediaClockFrame)
            and self._segment_start is not None
            and frame.t - self._segment_start >= self._settings.max_segment_s
        ):
            await self._finalize(frame.t, frame.t)
            self._segment_start = frame.t

    async def _finalize(self, t: float, ready_live: float) -> None:
        assert self._segment_start is not None
        audio = self._history.slice(self._segment_start, t)
        watch = Stopwatch()
        with watch.running():
            words = await asyncio.to_thread(self._recognizer.transcribe, audio, self._segment_start)
        live = self.stage.finish(ready_live, watch.seconds)
        final = Final(tuple(words), audio_end=t)
        if final.words:
            self._timeline.add(
                "final",
                t,
                live,
                text=final.text,
                words=[w.as_dict() for w in final.words],
                audio_end=round(t, 3),
            )
            out = TranscriptionFrame(
                text=final.text, user_id="user", timestamp=f"{t:.3f}", result=final, finalized=True
            )
            await self.push_frame(stamp(out, t, live))
        self._timeline.add("asr_flush", t, live, audio_end=round(t, 3))
        await self.push_frame(stamp(AsrFlushedFrame(audio_end=t), t, live))
