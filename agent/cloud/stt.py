"""Pipecat STT processor around any cloud :class:`~agent.cloud.provider.Provider`: stays up.

Audio goes to the provider as it comes and into a rolling buffer of the audio finals do not
cover yet. Provider events are taken on the media clock: each is stamped with the tick at which
it arrived, so words and turn events reach the turn controller as they would in a live call.

Staying up::

    connected ──drop / error / stall──► reconnecting: wait 1 s, 2 s, 4 s ... (cap, ±20 % jitter)
        ▲                                    │ connect OK
        └──── replay the buffered audio ◄────┘   (from the start of the run of speech the
                                                  last final fell in, or the first speech no
                                                  final reached, but no more than replay_max_s
                                                  before the last final's end, so nothing is
                                                  lost; words mostly before the end of the last
                                                  final are dropped, so nothing is duplicated;
                                                  silence is not replayed)
    a fatal error (a rejected key) or the retry budget spent ──► down

Replaying whole runs of speech (:mod:`agent.cloud.replay_point`) gives the provider the same
audio it heard the first time, context included, from a point on the media grid
(:func:`agent.media.on_grid`) rather than a cut into a word, with a finalise request (Finalize,
ForceEndTurn, ForceEndpoint) at each point of it where the live stream had one: a recogniser that
reads a run on its own and flushes on request (our emulators) then reads it the same way.

A provider whose words become final only at the end of a turn (Flux) would never finalise a turn
longer than a session lives; for it, what the lost session's last partial and the new session's
partials agree on is made final here (:mod:`agent.cloud.recovery`).

The retry budget is reset once a session has stayed healthy for ``healthy_s``. A stall is no
message for ``stall_s`` while audio is being sent. Connection management runs on the wall clock
(it is about the network); decisions stay on media time. Each state change is a
``stt_connection`` event in the timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable

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
from pydantic import BaseModel, Field

from agent.cloud.provider import CloudClosed, CloudTurn, CloudWords, Provider, ProviderError
from agent.cloud.recovery import agreed_words, fresh_words, longer
from agent.cloud.replay_point import ReplayRules, Utterance, replay_from
from agent.cloud.tape import TapeWriter
from agent.events import Final, Timeline, Word
from agent.frames import AsrFlushedFrame, MediaClockFrame, NativeTurnFrame, RecogniserLinkFrame, stamp
from agent.latency import Stage
from agent.media import SAMPLE_RATE, AudioHistory, back_to_pcm16, from_pcm16, on_grid

_COVER_SLACK_S = 0.3
"""A final ending this close before the VAD's end of speech covers it (a word ends before the edge)."""


class CloudSttSettings(BaseModel):
    """Connection and reconciliation knobs (seconds)."""

    backoff_first_s: float = Field(1.0, description="first wait before reconnecting (s)")
    backoff_cap_s: float = Field(16.0, description="longest wait between attempts (s)")
    retries: int = Field(8, description="attempts before giving up (reset after a healthy session)")
    healthy_s: float = Field(10.0, description="a session this long resets the retry budget (s)")
    stall_s: float = Field(5.0, description="no message this long while sending audio is a stall (s)")
    buffer_s: float = Field(30.0, description="audio kept for replay after a reconnect (s)")
    replay_margin_s: float = Field(
        1.0,
        description="replay this much before an utterance's onset (s): at least the recogniser's "
        "pre-roll (streaming.pre_roll_s), so a replayed run is read with the same lead-in",
    )
    replay_context_s: float = Field(
        3.0,
        description="utterances apart by less than this are replayed together: the provider read "
        "each with the ones before as context (our emulators keep streaming.context_s) (s)",
    )
    replay_max_s: float = Field(
        8.0,
        description="replay from no further back than this before the end of the last final (s): "
        "a longer run is replayed from inside, and read with less context. With drops every "
        "5-10 s, 4 s replayed the runs of 05, 06 and 10 from inside and changed a word in 2 of "
        "5 runs each on Nova-3 and AssemblyAI ('in' -> 'and', 'ski' -> 'k i', 'olives' -> "
        "'allos'); 8 s read all 12 of those runs as the fault-free run (Nova-3), and lost "
        "nothing of 07's 14 s turn in 5 runs",
    )
    brief_s: float = Field(
        2.0,
        description="a session lost this soon after going live, or before its finals (new or read "
        "again) reached the last final's end, was still reading its replay: the next replay has "
        "no context (only what no final covers), so a link dropping every few seconds catches up (s)",
    )
    recover_lead_s: float = Field(
        3.0,
        description="after words made final by agreement across a lost session (a provider whose "
        "finals come only at the end of a turn), replay from this far before them (s): each "
        "session must get further into a long turn than the one before. 1 s cut into 07's "
        "14 s turn with too little before it, and Flux's emulator read 'comes back after about "
        "10' as 'and 10' in 4 of 20 runs; 3 s read those 4 as the fault-free run",
    )
    finalize_on_vad_stop: bool = Field(True, description="ask the provider to finalise at a VAD stop")
    end_wait_s: float = Field(
        10.0,
        description="at the end of a call, wait up to this long (wall time) for a reconnect to "
        "finish and for the provider's last finals (s): a drop near the end of the last turn "
        "otherwise loses its words",
    )


class CloudSTTProcessor(FrameProcessor):
    """Streams audio to a cloud provider; emits finals, partials and its turn events."""

    def __init__(
        self,
        connect: Callable[[], Provider],
        settings: CloudSttSettings,
        timeline: Timeline,
        tape: TapeWriter | None = None,
        **kwargs: object,
    ) -> None:
        """``connect`` makes a new provider session; ``tape`` records every event taken."""
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._tape = tape
        self._new_provider = connect
        self._s = settings
        self._timeline = timeline
        self._buffer = AudioHistory(settings.buffer_s)
        self._provider: Provider | None = None
        self._offset = 0.0  # media time of the current session's first sample
        self._uncovered: float | None = None  # onset of speech no final has reached yet
        self._speech: list[Utterance] = []  # the VAD's utterances in the buffer
        self._finalize_at: list[float] = []  # media times of the finalise requests (VAD stops)
        self._partial: tuple[Word, ...] = ()  # the current session's latest partial (media time)
        self._dropped: tuple[Word, ...] = ()  # the furthest partial of sessions lost mid-turn
        self._recovered = False  # the last final was made by agreement, not by the provider
        self._brief = False  # the last session was lost soon after going live, or still reading its replay
        self._progress = False  # the current session's finals reached the last final's end
        self._heard = 0.0  # media time the current session's words (final or partial) reach
        self._replayed_to = 0.0  # media time up to which the current session was sent a backlog
        self._tail: tuple[Word, ...] = ()  # the last two final words passed on
        self._speaking = False
        self._task: asyncio.Task[None] | None = None
        self._down = False
        self._last_message = time.monotonic()
        self._connected_at = 0.0
        self._failures = 0
        self._sessions = 0  # sessions that went live
        self._closing: set[asyncio.Task[None]] = set()
        self._link_news: list[RecogniserLinkFrame] = []  # link changes to tell the turn logic
        self.stage = Stage("asr")
        """Live-time model of this processor's compute (the provider's is in its arrival times)."""
        self.reconnects: list[float] = []
        """Wall seconds each reconnect took (drop noticed to session replayed)."""

    @property
    def now(self) -> float:
        return self._buffer.end_time

    @property
    def _covered(self) -> float:
        """Media time up to which finals have been passed on."""
        return self._tail[-1].end if self._tail else 0.0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            await self._audio(frame)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            onset = float(frame.metadata.get("edge", self.now))
            if self._uncovered is None:
                self._uncovered = onset
            kept = [u for u in self._speech if u.end is None or u.end > self._buffer.start_time]
            self._speech = [*kept, Utterance(onset)]
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            if self._speech:
                self._speech[-1].end = float(frame.metadata.get("edge", self.now))
            self._speaking = False
            if self._s.finalize_on_vad_stop:
                start = self._buffer.start_time
                self._finalize_at = [t for t in self._finalize_at if t > start] + [self.now]
                if self._provider is not None:
                    await self._safely(self._provider.finalize())
        elif isinstance(frame, EndFrame):
            await self._shutdown()
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            await self._drain(frame.t)

    async def _audio(self, frame: InputAudioRawFrame) -> None:
        audio = from_pcm16(frame.audio)
        self._buffer.append(audio)
        if self._provider is None and self._task is None and not self._down:
            self._task = asyncio.create_task(self._connect(first=not self._sessions and not self._failures))
        elif self._provider is not None:
            stalled = time.monotonic() - self._last_message > self._s.stall_s
            if stalled:
                await self._lost(f"stalled: no message for {self._s.stall_s:.0f} s")
            else:
                await self._safely(self._provider.send(frame.audio))

    async def _connect(self, first: bool) -> None:
        began = time.monotonic()
        wait = self._s.backoff_first_s
        while not self._down:
            if not first:
                await asyncio.sleep(min(wait, self._s.backoff_cap_s) * random.uniform(0.8, 1.2))
                wait *= 2
            first = False
            provider = self._new_provider()
            try:
                await provider.connect()
            except ProviderError as e:
                self._failures += 1
                if e.fatal or self._failures > self._s.retries:
                    self._give_up(str(e))
                    return
                self._timeline.add("stt_connection", self.now, state="reconnecting", reason=str(e))
                continue
            try:
                await self._replay(provider)
            except Exception as e:  # the link broke again during the replay: one more attempt
                self._failures += 1
                self._brief = True
                self._closing.add(asyncio.create_task(self._close_quietly(provider)))
                reason = f"lost while replaying: {type(e).__name__}"
                if self._failures > self._s.retries:
                    self._give_up(reason)
                    return
                self._timeline.add("stt_connection", self.now, state="reconnecting", reason=reason)
                continue
            self._provider = provider
            self._progress = False
            self._heard = self._offset
            self._last_message = self._connected_at = time.monotonic()
            self._replayed_to = 0.0
            if self._sessions or self._failures:  # a backlog built up while no session was live
                self._replayed_to = self.now
                self.reconnects.append(time.monotonic() - began)
                self._tell_link(up=True, backlog_s=self.now - self._offset)
            self._timeline.add(
                "stt_connection",
                self.now,
                state="connected",
                provider=provider.name,
                replay_from=self._offset,
            )
            self._sessions += 1
            self._task = None
            return

    async def _replay(self, provider: Provider) -> None:
        """Send the new session what finals do not cover yet, with a finalise request at each
        point of it where one was due live (sent to a lost session, or due while none was up): a
        provider that flushes on request then reads the replay as the live stream was read.
        Audio keeps arriving meanwhile, so loop until caught up; the caller goes live with no
        await in between."""
        self._offset = sent = max(on_grid(self._buffer.start_time, up=True), self._replay_from())
        while self.now - sent > 1e-9:
            end = self.now
            for t in [t for t in self._finalize_at if sent < t <= end]:
                await self._send(provider, sent, t)
                await provider.finalize()
                sent = t
            await self._send(provider, sent, end)
            sent = end

    async def _send(self, provider: Provider, start: float, end: float) -> None:
        backlog = self._buffer.slice(start, end)
        for i in range(0, len(backlog), SAMPLE_RATE // 10):
            await provider.send(back_to_pcm16(backlog[i : i + SAMPLE_RATE // 10]))

    def _replay_from(self) -> float:
        """Where a new session starts (see :mod:`agent.cloud.replay_point`)."""
        rules = ReplayRules(
            context_s=0.0 if self._brief else self._s.replay_context_s,
            margin_s=self._s.replay_margin_s,
            max_back_s=self._s.recover_lead_s if self._recovered else self._s.replay_max_s,
        )
        return replay_from(self._speech, self._uncovered, self._covered, self.now, rules)

    async def _lost(self, reason: str, provider: Provider | None = None) -> None:
        """The live session (or ``provider``, one already taken off the line) broke: reconnect."""
        if provider is None:
            provider, self._provider = self._provider, None
        if provider is None:
            return
        lived = time.monotonic() - self._connected_at
        if lived >= self._s.healthy_s:
            self._failures = 0
        self._brief = lived < self._s.brief_s or not self._progress
        if provider.finals_at_turn_end:
            self._dropped, self._partial = longer(self._dropped, self._partial), ()
        self._timeline.add("stt_connection", self.now, state="reconnecting", reason=reason)
        self._tell_link(up=False)
        self._task = asyncio.create_task(self._connect(first=False))
        self._closing.add(asyncio.create_task(self._close_quietly(provider)))

    async def _close_quietly(self, provider: Provider) -> None:
        """Say goodbye to a broken session in the background: a stalled server never answers,
        and the pipeline must not wait for it."""
        with contextlib.suppress(Exception):  # the session is broken already
            await asyncio.wait_for(provider.close(), timeout=3.0)

    def _give_up(self, reason: str) -> None:
        """Down for good: recorded, and raised as a fatal pipeline error (one line, no key), since
        a conversation without a recogniser cannot go on."""
        self._down = True
        self._task = None
        self._timeline.add("stt_connection", self.now, state="down", reason=reason)
        self._closing.add(asyncio.create_task(self.push_error(reason)))

    def _tell_link(self, up: bool, backlog_s: float = 0.0) -> None:
        """Queue a link change for the turn logic (pushed with the next media tick): while the
        link is down, and while a replay is read, finals are late for a known reason."""
        frame = RecogniserLinkFrame(up=up, backlog_s=backlog_s)
        stamp(frame, self.now)
        self._link_news.append(frame)

    async def _drain(self, t: float) -> None:
        news, self._link_news = self._link_news, []
        for frame in news:
            await self.push_frame(frame)
        if self._provider is not None:
            await self._take_events(self._provider, t)

    async def _take_events(self, provider: Provider, t: float, closing: bool = False) -> CloudClosed | None:
        """Everything ``provider`` has said so far, stamped ``t``; ``closing``: its end is ours,
        and how it ended, if it said, is returned."""
        provider.advance(t)
        while not provider.events.empty():
            event = provider.events.get_nowait()
            self._last_message = time.monotonic()
            if isinstance(event, CloudWords) and provider.clock == "session":
                event = CloudWords(
                    tuple(map(self._media, event.final)), tuple(map(self._media, event.partial))
                )
            if self._tape is not None:
                self._tape.write(t, event)
            if isinstance(event, CloudWords):
                self._heard = max([self._heard, *(w.end for w in (*event.final, *event.partial))])
                await self._words(event, t)
            elif isinstance(event, CloudTurn):
                self._timeline.add(
                    "native_turn", t, kind=event.kind, index=event.index, score=event.confidence
                )
                out = NativeTurnFrame(kind=event.kind, index=event.index, confidence=event.confidence)
                await self.push_frame(stamp(out, t))
                if event.kind == "end" and self._end_is_about_now():
                    await self.push_frame(stamp(AsrFlushedFrame(audio_end=t), t))
                    if not self._speaking and self._heard_last_speech():
                        self._uncovered = None  # the provider made all speech so far final
            elif isinstance(event, CloudClosed):
                if closing:
                    return event
                if event.fatal:
                    self._provider = None
                    self._give_up(event.reason)
                    self._closing.add(asyncio.create_task(self._close_quietly(provider)))
                else:
                    await self._lost(event.reason)
                return None
        return None

    def _end_is_about_now(self) -> bool:
        """The provider's end of turn means no final is pending, unless a new session may still
        be reading its backlog (its words reach neither the last speech nor the replay's end)::

            live      ==A== stop ==B== stop  drop | new session: A, B replayed | live
            session 2                               A end(A: no flush)  B end(B: flush)
        """
        return self._heard_last_speech() or self._heard >= self._replayed_to - 1e-9

    def _heard_last_speech(self) -> bool:
        """The session has sent words from inside the last speech, so its end of turn is about
        that speech. One before that is about audio further back: a replayed backlog the
        provider is still reading. (Inside, not to the end: a provider's last word often ends
        well before the VAD's edge.)"""
        last = self._speech[-1] if self._speech else None
        return last is not None and last.end is not None and self._heard > last.onset

    async def _words(self, event: CloudWords, t: float) -> None:
        # Replayed audio: a word mostly before the end of the last final was passed on already.
        fresh = fresh_words(event.final, self._covered + 1e-3, self._tail)
        if event.final and event.final[-1].end >= self._covered - _COVER_SLACK_S:
            self._progress = True  # it read its backlog up to the last final
        await self._final(fresh, t)
        if fresh:
            # The provider finalised the turn itself. (An earlier turn read again in a replay
            # says nothing about the one the lost sessions were in: that one stays to recover.)
            self._dropped = ()
        self._partial = event.partial
        if self._dropped and event.partial:
            await self._final(
                agreed_words(self._dropped, event.partial, self._covered, self._tail), t, recovered=True
            )
        if event.partial:
            text = " ".join(w.text for w in event.partial)
            self._timeline.add("partial", t, text=text)
            await self.push_frame(stamp(InterimTranscriptionFrame(text, "user", f"{t:.3f}"), t))

    async def _final(self, words: list[Word], t: float, recovered: bool = False) -> None:
        """Pass words on as final; ``recovered``: made final by agreement across a lost session
        (see :mod:`agent.cloud.recovery`), not by the provider."""
        if not words:
            return
        self._recovered, self._tail = recovered, (*self._tail, *words)[-2:]
        self._progress = True
        last = self._speech[-1] if self._speech else None
        if last is not None and last.end is not None and self._covered >= last.end - _COVER_SLACK_S:
            self._uncovered = None  # the finals reach the end of the last speech
        final = Final(tuple(words), audio_end=words[-1].end)
        extra = {"recovered": True} if recovered else {}
        if recovered and self._tape is not None:
            self._tape.write(t, CloudWords(tuple(words), ()))
        self._timeline.add("final", t, text=final.text, words=[w.as_dict() for w in words], **extra)
        await self.push_frame(stamp(TranscriptionFrame(final.text, "user", f"{t:.3f}", result=final), t))

    def _media(self, w: Word) -> Word:
        return Word(w.text, w.start + self._offset, w.end + self._offset, w.p)

    async def _safely(self, step: object) -> None:
        """Await a provider call; a broken connection becomes a reconnect, not a crash."""
        try:
            await step  # type: ignore[misc]
        except Exception as e:  # any transport error of any SDK
            await self._lost(f"{type(e).__name__}")

    async def _shutdown(self) -> None:
        """The call ended: let the provider finish what it heard, then close::

            EndFrame ─► a reconnect under way? let it go live and replay
                     ─► close the live session politely; pass on its last finals
                     ─► it was lost on the way and speech is still uncovered? reconnect: loop
                     ─► stt_closed

        The close is the provider's own (Deepgram's ``CloseStream``, AssemblyAI's ``Terminate``):
        the server reads the audio it still holds and sends its last finals before it ends the
        session, and those are passed on ahead of the ``EndFrame``, stamped with the call's last
        media time. A session can be lost during that reading (after a replay it may hold many
        seconds of backlog); what no final covers then is replayed to a new session, which is
        closed in turn. Everything together is bounded by ``end_wait_s`` of wall time (a stalled
        server never answers). The ``stt_closed`` event in the timeline says how long it took,
        whether the last close returned within the bound (``finished``), the reason the last
        session gave for ending (``reason``; ``clean``: its goodbye rather than a lost link) and
        how many sessions were lost during the end (``reconnects``). A tape has nothing to wait
        for: it ends cleanly at once, its recorded closing events at the same media time.
        """
        began = time.monotonic()
        deadline = began + self._s.end_wait_s
        finished, closed, again = False, None, 0
        while True:
            if self._task is not None and not self._down:
                left = max(0.0, deadline - time.monotonic())
                with contextlib.suppress(Exception):  # slow (the bound) or failed: no session
                    await asyncio.wait_for(asyncio.shield(self._task), left)
            provider, self._provider = self._provider, None
            if provider is None:
                break
            finished, closed = await self._close_at_end(provider, deadline)
            lost = closed is None or not closed.clean
            if not lost or self._uncovered is None or self._down or time.monotonic() >= deadline:
                break
            again += 1
            await self._lost(f"lost while closing: {closed.reason if closed else 'no goodbye'}", provider)
        self._down = True
        if self._task is not None:
            self._task.cancel()
        self._timeline.add(
            "stt_closed",
            self.now,
            waited_s=round(time.monotonic() - began, 2),
            finished=finished,
            reason=closed.reason if closed else None,
            clean=bool(closed and closed.clean),
            reconnects=again,
        )
        if self._tape is not None:
            self._tape.close()
            self._tape = None

    async def _close_at_end(self, provider: Provider, deadline: float) -> tuple[bool, CloudClosed | None]:
        """Close ``provider`` by ``deadline``; whether the close returned in time, and how the
        session said it ended (None: it did not say)."""
        try:
            await asyncio.wait_for(provider.close(), max(0.0, deadline - time.monotonic()))
            finished = True
        except Exception:  # slow (the bound) or broken: what came is kept
            finished = False
        return finished, await self._take_events(provider, self.now, closing=True)
