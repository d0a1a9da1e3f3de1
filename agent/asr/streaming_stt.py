"""Pipecat STT processor around :class:`StreamingRecognizer`: partials for display, finals to act on.

In: user audio, VAD start/stop, the media clock. Out: ``InterimTranscriptionFrame`` with the
current partial (display only), ``TranscriptionFrame`` with newly committed words (``result`` is
a :class:`~agent.events.Final` with word times in media seconds), and ``AsrFlushedFrame`` when the
VAD stop has been finalised. Decodes run on the media clock (every ``chunk_s`` of speech, or
``over_bot_chunk_s`` for speech that began while the bot was talking). A call
that ends while the user is still speaking (or before a stop has settled) has its tail made final
ahead of the ``EndFrame``, as a cloud provider's close does: the caller's last words are not dropped.

In a replay a decode's compute time goes to the live-time figures only. Live (:mod:`agent.offload`)
the decode runs in this stage's thread while audio flows on; its words come out when it is done,
stamped with the media time they came back at (a ``stage_lag`` event says how late). A recogniser
that falls behind reads the newest buffer next and skips the readings it had no time for; a VAD
stop is always finalised, so no final is lost::

    audio    |====|====|====|====|====|====|====|....VAD stop
    reading  |== reading A (slow) ====|== B: newest buffer ==|== flush ==|
    skipped            ^due    ^due (no time: skipped, counted)
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
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
from agent.latency import Stage
from agent.media import from_pcm16
from agent.offload import Done, Inbox, Jobs, record_lag


class StreamingSTTProcessor(FrameProcessor):
    """Streams local Whisper with LocalAgreement-2; every final carries its word times."""

    def __init__(
        self, recognizer: StreamingRecognizer, timeline: Timeline, live: bool = False, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._asr = recognizer
        self._timeline = timeline
        self.stage = Stage("asr")
        """Live-time model of this processor's compute (see agent.latency)."""
        self._vad_live = 0.0
        self._now = 0.0  # the newest media time received
        self._skipped = 0  # readings skipped before the one under way (live, behind)
        self._behind_since: float | None = None  # a reading was due then but had to wait
        self._bot_talking = False  # the bot's audio is playing (its frames come upstream)
        self._inbox: Inbox[Update] = Inbox(Jobs("asr", live), self._apply, self._finished)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._inbox.put("audio", from_pcm16(frame.audio))
            await self._inbox.drain()
        elif isinstance(frame, EndFrame):
            await self._end()
        elif isinstance(frame, CancelFrame):
            self._inbox.jobs.close()
        await self.push_frame(frame, direction)
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._inbox.put("start", live_time(frame), self._bot_talking)
        elif isinstance(frame, BotStartedSpeakingFrame | BotStoppedSpeakingFrame):
            self._bot_talking = isinstance(frame, BotStartedSpeakingFrame)
            self._inbox.put("bot", self._bot_talking)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            t = media_time(frame)
            self._inbox.put("stop", t, float(frame.metadata.get("edge", t)), live_time(frame))
        elif isinstance(frame, MediaClockFrame):
            self._now = frame.t
            self._inbox.put("clock", frame.t)
        else:
            return
        await self._inbox.drain()

    async def _apply(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "audio":
            self._asr.append(item[1])
        elif kind == "start":
            _, self._vad_live, over_bot = item
            self._asr.speech_started(over_bot)
        elif kind == "bot":
            if item[1]:
                self._asr.bot_started()
        elif kind == "stop":
            _, t, edge, self._vad_live = item
            self._asr.speech_stopped(t, edge)
            await self._maybe_flush(t)
        elif kind == "clock" and not await self._maybe_flush(item[1]) and self._asr.due(item[1]):
            await self._read(item[1])

    async def _read(self, t: float) -> None:
        """A reading of the buffer; live and behind (a newer tick waits), the next tick reads
        a newer buffer instead, and the readings missed meanwhile are counted."""
        if self._inbox.jobs.live and self._inbox.later("clock"):
            self._behind_since = t if self._behind_since is None else self._behind_since
            return
        if self._behind_since is not None:
            self._skipped = int((t - self._behind_since) / self._asr.interval + 1e-6)
            self._behind_since = None
        await self._inbox.run(self._asr.update, ("read", t, max(t, self._vad_live)))

    async def _maybe_flush(self, t: float) -> bool:
        """Finalise the tail once the settle time after a VAD stop is over."""
        edge = self._asr.flush_due(t)
        if edge is None:
            return False
        await self._inbox.run(lambda: self._asr.finish(edge), ("flush", t, max(t, self._vad_live)))
        return True

    async def _end(self) -> None:
        """The call ends: finish what is under way, then make the tail final."""
        await self._inbox.drain(wait=True)
        t = self._asr.end_time
        await self._inbox.run(lambda: self._asr.finish(t), ("end", t, max(t, self._vad_live)))
        await self._inbox.drain(wait=True)
        self._inbox.jobs.close()

    async def _finished(self, done: Done[Update]) -> None:
        kind, t, ready_live = done.tag
        if self._inbox.jobs.live:  # its words are known now, not when they were asked for
            asked, t = t, max(t, self._now)
            ready_live = t
            record_lag(self._timeline, self.stage.name, asked, t, done, skipped=self._skipped)
            self._skipped = 0
        live = self.stage.finish(ready_live, done.compute_s)
        await self._emit(done.value, t, live)
        if kind == "flush":
            audio_end = done.tag[1]
            self._timeline.add("asr_flush", t, live, audio_end=round(audio_end, 3))
            await self.push_frame(stamp(AsrFlushedFrame(audio_end=audio_end), t, live))

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
