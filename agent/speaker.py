"""The bot's loudspeaker on the media clock: plays queued TTS audio tick by tick.

Audio that is ready at media time ``r`` starts playing in the first tick that begins at or after
``r``; each ``MediaClockFrame(t, dt)`` plays the slot ``(t - dt, t]``::

    ticks     |---- slot ----|---- slot ----|---- slot ----|
    TTS ready         ^r
    playing                  ^bot_audio_start ...

A :class:`~agent.frames.BotOutputFrame` stamped at media time ``p`` takes effect at ``p``, even
inside a slot: *pause* goes silent (and rewinds to the start of the word being played, so a
resume says that word again), *resume* plays on, *cancel* drops the queued audio and reports the
words the user heard whole (:class:`~agent.frames.BotHeardFrame`, upstream)::

    word audio   |--the--|--car--|--park--|
    pause at            p^           -> heard "the"; resume starts again at "car"

Everything played (silence included) is kept as the bot's output track, addressed by media time,
so a replay can leak it back into the microphone (echo), the echo canceller can use it as its
reference, and a report can draw it. Bot speaking frames go both ways: upstream processors (turn,
barge-in) need to know when the bot talks.

On a live transport (``output``) each tick's slot of bot audio also goes out as one
``OutputAudioRawFrame`` (20 ms for 20 ms of microphone audio: paced by the caller's own audio),
and a cancel pushes an ``InterruptionFrame`` so the transport drops what it still holds (Twilio:
``clear``). A transport that buffers what it plays (``marks``) is sent a
:class:`~agent.frames.PlayoutMarkFrame` after each word; a word counts as heard only once the
transport says it was played (:class:`~agent.frames.MarkPlayedFrame`), so a cancel keeps exactly
the words whose marks came back before it::

    sent     |--the--|m1|--car--|m2|--park--|m3|       cancel: clear
    played   |--the--|m1 echoed |--car--|m2 echoed ... |  -> heard "the car"; m3's echo after
                                                            the clear is the buffer being emptied
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InterruptionFrame,
    OutputAudioRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Timeline, Word
from agent.frames import (
    BotHeardFrame,
    BotOutputFrame,
    MarkPlayedFrame,
    MediaClockFrame,
    PlayoutMarkFrame,
    live_time,
    media_time,
    stamp,
)
from agent.media import SAMPLE_RATE, AudioHistory, from_pcm16, to_pcm16


@dataclass
class _Segment:
    audio: np.ndarray
    words: tuple[Word, ...]  # seconds from the segment's first sample
    ready_t: float
    ready_live: float
    played: int = 0
    heard: int = 0  # how many of ``words`` have been played whole


@dataclass
class _Utterance:
    """One stretch of bot speech (pauses included)."""

    start_t: float
    heard: list[Word] = field(default_factory=list)


class SpeakerProcessor(FrameProcessor):
    """Plays bot audio on media time and records what was played and when.

    ``output``: send each slot of bot audio on as an ``OutputAudioRawFrame`` (a live transport
    plays it) and an ``InterruptionFrame`` on a cancel. ``marks``: a word is heard only when the
    transport reports its mark played.
    """

    def __init__(
        self,
        timeline: Timeline,
        track_s: float = 60.0,
        output: bool = False,
        marks: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._timeline = timeline
        self._output = output
        self._marks = marks
        self._slot: list[np.ndarray] = []  # the audio of the slot being played
        self._slot_bot = 0  # bot samples in it
        self._slot_words: list[Word] = []  # words whose last sample was played in it
        self._unplayed: dict[str, tuple[int, Word]] = {}  # mark -> (reply, word), not echoed yet
        self._marks_sent = 0
        self._reply = 0  # replies started (TTSStartedFrame)
        self._reply_marks: list[str] = []  # marks of the current reply that came back
        self._queue: list[_Segment] = []
        self._utterance: _Utterance | None = None
        self._track = AudioHistory(track_s)
        self._last_stop: float | None = None
        self._paused = False
        self._actions: list[tuple[float, float, str]] = []  # (media time, live time, action)
        self._reply_heard: list[Word] = []  # words heard of the current reply (all its utterances)

    @property
    def speaking(self) -> bool:
        """True while a bot utterance is under way (playing or paused)."""
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
            audio = from_pcm16(frame.audio)
            words = tuple(frame.metadata.get("words", ())) or estimate_words(
                str(frame.metadata.get("text", "")), len(audio) / SAMPLE_RATE
            )
            self._queue.append(_Segment(audio, words, media_time(frame), live_time(frame)))
            return  # played from here, tick by tick
        elif isinstance(frame, TTSStartedFrame):
            self._reply_heard = []  # a new reply: may take several utterances if the TTS lags
            self._reply_marks = []
            self._reply += 1
        elif isinstance(frame, BotOutputFrame):
            self._actions.append((media_time(frame), live_time(frame), frame.action))
            return
        elif isinstance(frame, MarkPlayedFrame):
            self._played(frame.mark)
            return
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            await self._play(frame.t - frame.dt, frame.t)

    async def _play(self, start: float, end: float) -> None:
        """Play the slot [start, end), applying pause/resume/cancel at their media times."""
        cursor = start
        self._actions.sort()
        self._slot, self._slot_bot, self._slot_words = [], 0, []
        while self._actions and self._actions[0][0] < end - 1e-9:
            at, live, action = self._actions.pop(0)
            at = min(max(at, cursor), end)
            await self._fill(cursor, at)
            cursor = at
            await self._apply(action, at, live)
        await self._fill(cursor, end)
        if self._output and self._slot_bot:
            await self._send_slot(end)

    async def _send_slot(self, end: float) -> None:
        """The slot's audio to the transport, then a mark for each word it completed."""
        audio = np.concatenate(self._slot)
        out = OutputAudioRawFrame(audio=to_pcm16(audio), sample_rate=SAMPLE_RATE, num_channels=1)
        await self.push_frame(stamp(out, end))
        if not self._marks:
            return
        for word in self._slot_words:
            self._marks_sent += 1
            mark = str(self._marks_sent)
            self._unplayed[mark] = (self._reply, word)
            await self.push_frame(stamp(PlayoutMarkFrame(message={"mark": mark}), end))

    def _played(self, mark: str) -> None:
        """The transport played the audio up to ``mark``: its word was heard."""
        reply, word = self._unplayed.pop(mark, (None, None))
        if word is not None and reply == self._reply:
            self._reply_heard.append(word)
            self._reply_marks.append(mark)

    async def _fill(self, start: float, end: float) -> None:
        want = round(end * SAMPLE_RATE) - round(start * SAMPLE_RATE)
        if want <= 0:
            return
        out = np.zeros(want, dtype=np.float32)
        filled = 0
        while not self._paused and filled < want and self._queue_ready(start):
            seg = self._queue[0]
            pos = start + filled / SAMPLE_RATE
            if self._utterance is None:
                self._utterance = _Utterance(pos)
                live = max(pos, seg.ready_live)
                self._timeline.add("bot_audio_start", pos, live)
                await self._both_ways(stamp(BotStartedSpeakingFrame(), pos, live))
            n = min(want - filled, len(seg.audio) - seg.played)
            out[filled : filled + n] = seg.audio[seg.played : seg.played + n]
            self._note_heard(seg, seg.played + n, pos)
            seg.played += n
            filled += n
            if seg.played >= len(seg.audio):
                self._queue.pop(0)
        self._track.append(out)
        self._slot.append(out)
        self._slot_bot += filled
        if (
            self._utterance is not None
            and not self._paused
            and filled < want
            and not self._queue_ready(start)
        ):
            await self._stopped(start + filled / SAMPLE_RATE, interrupted=False)

    def _note_heard(self, seg: _Segment, until: int, pos: float) -> None:
        """Words of ``seg`` whose last sample is now played (``pos``: media time of seg.played)."""
        assert self._utterance is not None
        while seg.heard < len(seg.words) and round(seg.words[seg.heard].end * SAMPLE_RATE) <= until:
            w = seg.words[seg.heard]
            end = pos + (round(w.end * SAMPLE_RATE) - seg.played) / SAMPLE_RATE
            word = Word(w.text, end - (w.end - w.start), end)
            self._utterance.heard.append(word)
            if self._marks:
                self._slot_words.append(word)  # heard once its mark comes back
            else:
                self._reply_heard.append(word)
            seg.heard += 1

    async def _apply(self, action: str, at: float, live: float) -> None:
        if action == "cancel":
            self._queue.clear()
            self._paused = False
            heard, self._reply_heard = self._reply_heard, []
            if self._output:  # the transport drops what it still holds
                self._slot, self._slot_bot, self._slot_words = [], 0, []
                await self.push_frame(stamp(InterruptionFrame(), at, live))
            if self._marks:
                self._timeline.add(
                    "playout_cut",
                    at,
                    live,
                    heard=len(heard),
                    heard_marks=self._reply_marks,
                    unplayed=sorted(self._unplayed, key=int),
                )
                self._unplayed.clear()  # echoes still to come are the transport emptying its buffer
                self._reply_marks = []
            if self._utterance is not None:
                await self._stopped(at, interrupted=True, live=live)
            text = " ".join(w.text for w in heard)
            out = BotHeardFrame(text=text, words=tuple(heard))
            await self.push_frame(stamp(out, at, live), FrameDirection.UPSTREAM)
        elif self._utterance is None:
            return
        elif action == "pause" and not self._paused:
            self._paused = True
            if self._queue:  # say the word that was cut again on resume
                seg = self._queue[0]
                if seg.heard < len(seg.words):
                    seg.played = min(seg.played, round(seg.words[seg.heard].start * SAMPLE_RATE))
            self._timeline.add("bot_paused", at, live)
        elif action == "resume" and self._paused:
            self._paused = False
            self._timeline.add("bot_resumed", at, live)

    def _queue_ready(self, start: float) -> bool:
        return bool(self._queue) and self._queue[0].ready_t <= start + 1e-9

    async def _stopped(self, stop: float, interrupted: bool, live: float | None = None) -> None:
        assert self._utterance is not None
        u, self._utterance = self._utterance, None
        self._last_stop = stop
        self._timeline.add(
            "bot_audio_stop",
            stop,
            live,
            text=" ".join(w.text for w in u.heard),
            words=[w.as_dict() for w in u.heard],
            started=round(u.start_t, 3),
            interrupted=interrupted,
        )
        await self._both_ways(stamp(BotStoppedSpeakingFrame(), stop, live))

    async def _both_ways(self, frame: Frame) -> None:
        await self.push_frame(frame)
        upstream = type(frame)()
        upstream.metadata.update(frame.metadata)
        await self.push_frame(upstream, FrameDirection.UPSTREAM)


def estimate_words(text: str, duration: float) -> tuple[Word, ...]:
    """Word times for audio without any: spread over ``duration`` by each word's share of the
    letters (used only when the TTS gives no timings)."""
    words = text.split()
    total = sum(len(w) for w in words)
    out, pos = [], 0.0
    for w in words:
        span = duration * len(w) / total
        out.append(Word(w, pos, pos + span))
        pos += span
    return tuple(out)
