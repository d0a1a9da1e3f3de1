"""The bot's loudspeaker on the media clock: plays queued TTS audio tick by tick.

Audio that is ready at media time ``r`` starts playing in the first tick that begins at or after
``r``; each ``MediaClockFrame(t, dt)`` plays the slot ``(t - dt, t]``::

    ticks     |---- slot ----|---- slot ----|---- slot ----|
    TTS ready         ^r
    playing                  ^bot_audio_start ...

Everything played (silence included) is kept as the bot's output track, addressed by media time,
so a replay can leak it back into the microphone (echo) and a report can draw it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Timeline, Word
from agent.frames import MediaClockFrame, live_time, media_time, stamp
from agent.media import SAMPLE_RATE, AudioHistory, from_pcm16


@dataclass
class _Segment:
    audio: np.ndarray
    words: tuple[Word, ...]
    ready_t: float
    ready_live: float
    played: int = 0
    start_t: float = 0.0


@dataclass
class _Utterance:
    """One continuous stretch of bot speech."""

    start_t: float
    words: list[Word] = field(default_factory=list)


class SpeakerProcessor(FrameProcessor):
    """Plays bot audio on media time and records what was played and when."""

    def __init__(self, timeline: Timeline, track_s: float = 60.0, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._timeline = timeline
        self._queue: list[_Segment] = []
        self._utterance: _Utterance | None = None
        self._track = AudioHistory(track_s)
        self._last_stop: float | None = None

    @property
    def speaking(self) -> bool:
        """True while bot audio is playing."""
        return self._utterance is not None

    @property
    def speech_started_at(self) -> float | None:
        """Media time the current bot utterance started, or None when quiet."""
        return self._utterance.start_t if self._utterance else None

    @property
    def last_stop(self) -> float | None:
        """Media time the bot last went quiet (None if it never spoke)."""
        return self._last_stop

    @property
    def has_queued_audio(self) -> bool:
        return bool(self._queue)

    def output(self, start: float, end: float) -> np.ndarray:
        """The bot audio played between two media times (zeros where silent or not yet played)."""
        return self._track.padded(start, end)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            words = tuple(frame.metadata.get("words", ()))
            self._queue.append(_Segment(from_pcm16(frame.audio), words, media_time(frame), live_time(frame)))
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            await self._play(frame.t - frame.dt, frame.t)

    async def _play(self, start: float, end: float) -> None:
        want = round(end * SAMPLE_RATE) - round(start * SAMPLE_RATE)
        out = np.zeros(want, dtype=np.float32)
        filled = 0
        while filled < want and self._queue and self._queue[0].ready_t <= start + 1e-9:
            seg = self._queue[0]
            pos = start + filled / SAMPLE_RATE
            if seg.played == 0:
                seg.start_t = pos
                if self._utterance is None:
                    self._utterance = _Utterance(pos)
                    live = max(pos, seg.ready_live)
                    self._timeline.add("bot_audio_start", pos, live)
                    await self.push_frame(stamp(BotStartedSpeakingFrame(), pos, live))
                self._utterance.words.extend(Word(w.text, pos + w.start, pos + w.end) for w in seg.words)
            n = min(want - filled, len(seg.audio) - seg.played)
            out[filled : filled + n] = seg.audio[seg.played : seg.played + n]
            seg.played += n
            filled += n
            if seg.played >= len(seg.audio):
                self._queue.pop(0)
        self._track.append(out)
        if self._utterance is not None and filled < want and not self._queue_ready(start):
            stop = start + filled / SAMPLE_RATE
            await self._stopped(stop)

    def _queue_ready(self, start: float) -> bool:
        return bool(self._queue) and self._queue[0].ready_t <= start + 1e-9

    async def _stopped(self, stop: float) -> None:
        assert self._utterance is not None
        u, self._utterance = self._utterance, None
        self._last_stop = stop
        text = " ".join(w.text for w in u.words)
        self._timeline.add(
            "bot_audio_stop",
            stop,
            text=text,
            words=[w.as_dict() for w in u.words],
            started=round(u.start_t, 3),
        )
        await self.push_frame(stamp(BotStoppedSpeakingFrame(), stop))
