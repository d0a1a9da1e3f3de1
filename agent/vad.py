"""Voice activity: Silero's per-window speech probability, turned into speech start/stop events.

The state machine (:class:`VadSegmenter`) is pure: it takes one confidence per window with the
window's end time and returns start/stop events stamped in media time::

    confidence  ___|‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾|_______________
                   ^onset      ^start   ^speech_end   ^stop
                   <-start_secs->       <-stop_secs--->

A start is confirmed ``start_secs`` after the onset and carries the onset; a stop is confirmed
``stop_secs`` after the last speech window and carries ``speech_end``. The model wrapper
(:class:`SileroVoice`) and the Pipecat processor (:class:`VADProcessor`) sit around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pydantic import BaseModel, Field

from agent.events import Timeline
from agent.frames import MediaClockFrame, VoiceWindowFrame, stamp
from agent.latency import Stage, Stopwatch
from agent.media import SAMPLE_RATE, from_pcm16, to_pcm16


class VadSettings(BaseModel):
    """Voice activity knobs (seconds and probabilities)."""

    confidence: float = Field(0.6, description="Silero probability at or above which a window is speech")
    start_secs: float = Field(0.2, description="speech needed to confirm a start (s)")
    stop_secs: float = Field(0.2, description="silence needed to confirm a stop (s)")


@dataclass(frozen=True)
class VadEvent:
    """A confirmed speech start or stop.

    ``t`` is when it was confirmed; ``onset`` (start) or ``speech_end`` (stop) is when the speech
    really began or ended, both in media seconds.
    """

    kind: Literal["start", "stop"]
    t: float
    edge: float


class VadSegmenter:
    """Hysteresis over per-window speech probabilities; pure, clock-free."""

    def __init__(self, settings: VadSettings, window_s: float) -> None:
        self._s = settings
        self._window = window_s
        self._start_windows = max(1, round(settings.start_secs / window_s))
        self._stop_windows = max(1, round(settings.stop_secs / window_s))
        self.speaking = False
        self._run = 0  # consecutive windows against the current state
        self._edge = 0.0  # onset (while starting) or last speech end (while stopping)

    def feed(self, window_end: float, confidence: float) -> VadEvent | None:
        """Advance by one window ending at ``window_end``; return an event if one is confirmed."""
        is_speech = confidence >= self._s.confidence
        if is_speech != self.speaking:
            if self._run == 0:
                # A run against the current state begins at this window's start: the speech
                # onset (when starting) or the end of the last speech window (when stopping).
                self._edge = window_end - self._window
            self._run += 1
            needed = self._start_windows if is_speech else self._stop_windows
            if self._run >= needed:
                self.speaking = is_speech
                self._run = 0
                return VadEvent("start" if is_speech else "stop", window_end, self._edge)
        else:
            self._run = 0
        return None


class SileroVoice:
    """Silero VAD (bundled in pipecat-ai): speech probability for each 32 ms window at 16 kHz."""

    window_samples = 512

    def __init__(self) -> None:
        self._analyzer = SileroVADAnalyzer(sample_rate=SAMPLE_RATE)
        self._analyzer.set_sample_rate(SAMPLE_RATE)

    def confidence(self, window: np.ndarray) -> float:
        """Probability that a window of ``window_samples`` float samples is speech."""
        return float(np.asarray(self._analyzer.voice_confidence(to_pcm16(window))).reshape(-1)[0])


class VADProcessor(FrameProcessor):
    """Runs the VAD on incoming 16 kHz audio and keeps the media clock.

    For each ``InputAudioRawFrame`` it pushes the audio on (stamped with its end time), then a
    :class:`VoiceWindowFrame` per model window and any
    ``VADUserStartedSpeakingFrame`` / ``VADUserStoppedSpeakingFrame`` it confirmed, then a
    :class:`MediaClockFrame` for the end of the audio. Media time is samples received / 16 kHz.
    """

    def __init__(
        self,
        voice: SileroVoice,
        settings: VadSettings,
        timeline: Timeline,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._voice = voice
        self._settings = settings
        self._timeline = timeline
        self._segmenter = VadSegmenter(settings, voice.window_samples / SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._received = 0
        self.stage = Stage("vad")
        """Live-time model of this processor\'s compute (see agent.latency)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputAudioRawFrame):
            await self.push_frame(frame, direction)
            return
        if frame.sample_rate != SAMPLE_RATE or frame.num_channels != 1:
            raise ValueError(
                f"VAD input must be {SAMPLE_RATE} Hz mono, got {frame.sample_rate} Hz x{frame.num_channels}"
            )
        audio = from_pcm16(frame.audio)
        start_t = self._received / SAMPLE_RATE
        self._received += len(audio)
        end_t = self._received / SAMPLE_RATE
        await self.push_frame(stamp(frame, end_t), direction)

        self._pending = np.concatenate([self._pending, audio])
        consumed = 0
        n = self._voice.window_samples
        window_end = end_t - len(self._pending) / SAMPLE_RATE
        watch = Stopwatch()
        while len(self._pending) - consumed >= n:
            window = self._pending[consumed : consumed + n]
            consumed += n
            window_end += n / SAMPLE_RATE
            with watch.running():
                conf = self._voice.confidence(window)
            live = self.stage.finish(window_end, watch.seconds)
            voice = VoiceWindowFrame(t=window_end, dt=n / SAMPLE_RATE, confidence=conf)
            await self.push_frame(stamp(voice, window_end, live))
            event = self._segmenter.feed(window_end, conf)
            if event is not None:
                await self._emit(event, live)
        self._pending = self._pending[consumed:]
        await self.push_frame(MediaClockFrame(t=end_t, dt=end_t - start_t), direction)

    async def _emit(self, event: VadEvent, live: float) -> None:
        if event.kind == "start":
            self._timeline.add("vad_start", event.t, live, onset=round(event.edge, 3))
            out: Frame = VADUserStartedSpeakingFrame(start_secs=self._settings.start_secs, timestamp=event.t)
        else:
            self._timeline.add("vad_stop", event.t, live, speech_end=round(event.edge, 3))
            out = VADUserStoppedSpeakingFrame(stop_secs=self._settings.stop_secs, timestamp=event.t)
        out.metadata["edge"] = event.edge
        await self.push_frame(stamp(out, event.t, live))
