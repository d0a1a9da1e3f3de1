"""The Pipecat shell around :class:`TurnController`: frames in, evidence in, decisions out.

In: user audio (kept for the detectors), VAD start/stop, finals (``TranscriptionFrame`` whose
``result`` is a :class:`~agent.events.Final`), ``AsrFlushedFrame`` and the media clock.
Out: ``UserStartedSpeakingFrame`` / ``UserStoppedSpeakingFrame`` and, when a turn ends, the user's
words appended to the shared ``LLMContext`` and an ``LLMContextFrame`` to start the reply.

A likely end speaks Pipecat's own speculation protocol, so that any Pipecat LLM service placed
after this processor answers early without ever speaking a reply the user did not get to::

    eager_end      LLMContextFrame(provisional context, speculation=True)   the reply is held
    turn_resumed   EagerEndOfTurnCancelFrame                                 ... and dropped
    turn_end       same words: UserStoppedSpeakingFrame                      ... and released
                   other words: EagerEndOfTurnCancelFrame, UserStoppedSpeakingFrame,
                                LLMContextFrame(context)                     a fresh reply

In a replay every controller call runs at once. Live (:mod:`agent.offload`) each tick, which may
run smart-turn, runs in this stage's thread; evidence that comes in meanwhile waits its turn, in
order, and ticks that pile up behind a slow check are merged into the newest one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EagerEndOfTurnCancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    LLMContextFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Final, Timeline
from agent.frames import (
    AsrFlushedFrame,
    FalseAlarmFrame,
    MediaClockFrame,
    NativeTurnFrame,
    RecogniserLinkFrame,
    VoiceWindowFrame,
    live_time,
    media_time,
    stamp,
)
from agent.latency import Stage
from agent.media import AudioHistory, from_pcm16
from agent.offload import Done, Inbox, Jobs, record_lag
from agent.turn.controller import TurnController, TurnEvent, TurnSettings
from agent.turn.detectors import Detector, Verdict
from agent.turn.native import NativeDetector, NativeTurn


class TurnProcessor(FrameProcessor):
    """Feeds the turn controller and turns its decisions into frames and timeline events."""

    def __init__(
        self,
        detectors: list[Detector],
        settings: TurnSettings,
        context: LLMContext,
        timeline: Timeline,
        history_s: float = 12.0,
        voice_confidence: float = 0.6,
        live: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._history = AudioHistory(history_s)
        self._controller = TurnController(detectors, settings, self._history.slice)
        self._natives = [d for d in detectors if isinstance(d, NativeDetector)]
        self._context = context
        self._timeline = timeline
        self._voice_confidence = voice_confidence
        self.stage = Stage("end-of-turn")
        """Live-time model of this processor\'s compute (see agent.latency)."""
        self._vad_live = 0.0  # live time of the latest VAD decision
        self._flush_live = 0.0  # live time of the latest finals flush
        self._verdict_live: dict[Verdict, float] = {}
        self._speculating = False  # a reply prepared on an eager end is held downstream
        self._now = 0.0  # the newest media time received
        self._inbox: Inbox[list[TurnEvent]] = Inbox(
            Jobs("turn", live, thread=False, grace_s=0.005), self._apply, self._ticked
        )

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        item = self._evidence(frame, direction)
        if item is not None:
            self._inbox.put(*item)
            await self._inbox.drain()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            if isinstance(frame, EndFrame):
                await self._inbox.drain(wait=True)
            self._inbox.jobs.close()
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            self._now = frame.t
            self._inbox.put("tick", frame.t)
            await self._inbox.drain()

    def _evidence(self, frame: Frame, direction: FrameDirection) -> tuple[Any, ...] | None:
        """The controller input a frame carries (None: the frame is no evidence)."""
        if isinstance(frame, InputAudioRawFrame):
            return ("audio", from_pcm16(frame.audio))
        if isinstance(frame, (BotStartedSpeakingFrame, BotStoppedSpeakingFrame)):
            upstream = direction == FrameDirection.UPSTREAM
            return ("bot", isinstance(frame, BotStartedSpeakingFrame)) if upstream else None
        if isinstance(frame, VADUserStartedSpeakingFrame):
            onset = float(frame.metadata.get("edge", media_time(frame)))
            return ("start", media_time(frame), onset, live_time(frame))
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            edge = float(frame.metadata.get("edge", media_time(frame)))
            return ("stop", media_time(frame), edge, live_time(frame))
        if isinstance(frame, TranscriptionFrame) and isinstance(frame.result, Final):
            return ("final", frame.result, live_time(frame))
        if isinstance(frame, NativeTurnFrame):
            return ("native", NativeTurn(frame.kind, media_time(frame), frame.index, frame.confidence))  # type: ignore[arg-type]
        if isinstance(frame, VoiceWindowFrame):
            return ("voice", frame.t, frame.confidence >= self._voice_confidence)
        if isinstance(frame, FalseAlarmFrame):
            return ("false_alarm", frame.onset, media_time(frame), live_time(frame))
        if isinstance(frame, AsrFlushedFrame):
            return ("flushed", frame.audio_end, live_time(frame))
        if isinstance(frame, RecogniserLinkFrame):
            return ("link", media_time(frame), frame.up, frame.backlog_s)
        return None

    async def _apply(self, item: tuple[Any, ...]) -> None:
        c = self._controller
        kind = item[0]
        if kind == "audio":
            self._history.append(item[1])
        elif kind == "bot":
            c.bot_talking(item[1])
        elif kind == "start":
            _, t, onset, self._vad_live = item
            for event in c.speech_started(t, onset):
                await self._emit(event, self._vad_live)
        elif kind == "stop":
            _, t, edge, self._vad_live = item
            c.speech_stopped(t, edge)
        elif kind == "final":
            self._flush_live = max(self._flush_live, item[2])
            c.final(item[1])
        elif kind == "native":
            for d in self._natives:
                d.provider(item[1])
        elif kind == "voice":
            c.voice(item[1], item[2])
        elif kind == "false_alarm":
            for event in c.false_alarm(item[1], item[2]):
                await self._emit(event, item[3])
        elif kind == "flushed":
            self._flush_live = max(self._flush_live, item[2])
            c.flushed(item[1])
        elif kind == "link":
            c.recogniser_link(item[1], item[2], item[3])
        elif kind == "tick" and not (self._inbox.jobs.live and self._inbox.later("tick")):
            t = item[1]
            await self._inbox.run(lambda: c.tick(t), t)

    async def _ticked(self, done: Done[list[TurnEvent]]) -> None:
        asked: float = done.tag
        t = asked
        if self._inbox.jobs.live:
            t = max(asked, self._now)
            if t - asked > 0.021 or any(e.kind == "eot_check" for e in done.value):
                record_lag(self._timeline, self.stage.name, asked, t, done)  # a check, or late
        for event in done.value:
            if t > event.t:  # live, late: the decision takes effect when it is known
                event = replace(event, t=t)
            await self._emit(event, t)

    async def _emit(self, event: TurnEvent, ready_live: float) -> None:
        if event.kind == "eot_check":
            await self._record_check(event, ready_live)
        elif event.kind == "turn_start":
            self._timeline.add("turn_start", event.t, ready_live, index=event.index, **event.extra)
            await self.push_frame(stamp(UserStartedSpeakingFrame(), event.t, ready_live))
        elif event.kind == "eager_end":
            await self._speculate(event)
        elif event.kind == "turn_resumed":
            self._timeline.add("turn_resumed", event.t, ready_live, index=event.index)
            await self._withdraw("user went on", event.t, ready_live)
        else:
            await self._finish_turn(event)

    async def _speculate(self, event: TurnEvent) -> None:
        """A likely end: the LLM may prepare a reply on the text so far (the shared context is
        not touched; the real end decides whether that reply is used)."""
        v = event.verdict
        assert v is not None
        live = max(event.t, self._verdict_live.get(v, event.t), self._flush_live)
        self._timeline.add("eager_end", event.t, live, index=event.index, text=event.text, score=v.score)
        messages = [*self._context.get_messages(), {"role": "user", "content": event.text}]
        request = LLMContextFrame(context=LLMContext(messages=messages), speculation=True)  # type: ignore[arg-type]
        request.metadata.update(turn_index=event.index, text=event.text)
        self._speculating = True
        await self.push_frame(stamp(request, event.t, live))

    async def _withdraw(self, reason: str, t: float, live: float) -> None:
        """Tell the LLM to drop the reply it holds for an eager end (if it holds one)."""
        if self._speculating:
            self._speculating = False
            cancel = EagerEndOfTurnCancelFrame()
            cancel.metadata["reason"] = reason
            await self.push_frame(stamp(cancel, t, live))

    async def _record_check(self, event: TurnEvent, ready_live: float) -> None:
        v = event.verdict
        assert v is not None
        live = self.stage.finish(max(ready_live, self._vad_live), v.compute_s)
        self._verdict_live[v] = live
        extra = {"ahead": True} if v.ahead else {}
        self._timeline.add(
            "eot_check",
            event.t,
            live,
            detector=v.detector,
            score=v.score,
            done=v.done,
            compute_ms=round(1000 * v.compute_s, 2),
            **extra,
        )

    async def _finish_turn(self, event: TurnEvent) -> None:
        v = event.verdict
        live = max(event.t, self._verdict_live.pop(v, event.t) if v else event.t, self._flush_live)
        self._verdict_live.clear()
        fields: dict[str, object] = {"index": event.index, **event.extra}
        if v is not None:
            fields.update(detector=v.detector, score=v.score)
        held = self._speculating and event.kind == "turn_end" and event.extra.get("eager_text") == event.text
        if not held:
            reason = "turn discarded" if event.kind == "turn_discarded" else "finals differ"
            await self._withdraw(reason, event.t, live)
        self._speculating = False
        stopped = stamp(UserStoppedSpeakingFrame(), event.t, live)
        stopped.metadata.update(turn_index=event.index, text=event.text)
        if event.kind == "turn_discarded":
            await self.push_frame(stopped)
            self._timeline.add("turn_discarded", event.t, live, **fields)
            return
        self._timeline.add("turn_end", event.t, live, text=event.text, speech_end=event.speech_end, **fields)
        self._context.add_message({"role": "user", "content": event.text})
        await self.push_frame(stopped)  # releases a reply held for exactly these words
        if not held:
            reply = LLMContextFrame(context=self._context)
            reply.metadata.update(turn_index=event.index, text=event.text)
            await self.push_frame(stamp(reply, event.t, live))
