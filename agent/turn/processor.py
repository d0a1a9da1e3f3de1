"""The Pipecat shell around :class:`TurnController`: frames in, evidence in, decisions out.

In: user audio (kept for the detectors), VAD start/stop, finals (``TranscriptionFrame`` whose
``result`` is a :class:`~agent.events.Final`), ``AsrFlushedFrame`` and the media clock.
Out: ``UserStartedSpeakingFrame`` / ``UserStoppedSpeakingFrame`` and, when a turn ends, the user's
words appended to the shared ``LLMContext`` and an ``LLMContextFrame`` to start the reply.
"""

from __future__ import annotations

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
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
    CancelSpeculationFrame,
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

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._history.append(from_pcm16(frame.audio))
        elif isinstance(frame, (BotStartedSpeakingFrame, BotStoppedSpeakingFrame)):
            if direction == FrameDirection.UPSTREAM:
                self._controller.bot_talking(isinstance(frame, BotStartedSpeakingFrame))
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._vad_live = live_time(frame)
            onset = float(frame.metadata.get("edge", media_time(frame)))
            for event in self._controller.speech_started(media_time(frame), onset):
                await self._emit(event, self._vad_live)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._vad_live = live_time(frame)
            edge = float(frame.metadata.get("edge", media_time(frame)))
            self._controller.speech_stopped(media_time(frame), edge)
        elif isinstance(frame, TranscriptionFrame) and isinstance(frame.result, Final):
            self._flush_live = max(self._flush_live, live_time(frame))
            self._controller.final(frame.result)
        elif isinstance(frame, NativeTurnFrame):
            said = NativeTurn(frame.kind, media_time(frame), frame.index, frame.confidence)  # type: ignore[arg-type]
            for d in self._natives:
                d.provider(said)
        elif isinstance(frame, VoiceWindowFrame):
            self._controller.voice(frame.t, frame.confidence >= self._voice_confidence)
        elif isinstance(frame, FalseAlarmFrame):
            for event in self._controller.false_alarm(frame.onset, media_time(frame)):
                await self._emit(event, live_time(frame))
        elif isinstance(frame, AsrFlushedFrame):
            self._flush_live = max(self._flush_live, live_time(frame))
            self._controller.flushed(frame.audio_end)
        elif isinstance(frame, RecogniserLinkFrame):
            self._controller.recogniser_link(media_time(frame), frame.up, frame.backlog_s)
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            for event in self._controller.tick(frame.t):
                await self._emit(event, frame.t)

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
            await self.push_frame(stamp(CancelSpeculationFrame(), event.t, ready_live))
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
        request = LLMContextFrame(context=LLMContext(messages=messages))  # type: ignore[arg-type]
        request.metadata.update(speculative=True, turn_index=event.index, text=event.text)
        await self.push_frame(stamp(request, event.t, live))

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
        await self.push_frame(stamp(UserStoppedSpeakingFrame(), event.t, live))
        if event.kind == "turn_discarded":
            self._timeline.add("turn_discarded", event.t, live, **fields)
            return
        self._timeline.add("turn_end", event.t, live, text=event.text, speech_end=event.speech_end, **fields)
        self._context.add_message({"role": "user", "content": event.text})
        reply = LLMContextFrame(context=self._context)
        eager = event.extra.get("eager_text")
        reply.metadata.update(turn_index=event.index, text=event.text, eager_text=eager)
        await self.push_frame(stamp(reply, event.t, live))
