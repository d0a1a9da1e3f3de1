"""The Pipecat shell around :class:`BargeInController`: evidence in, speaker commands out.

In (downstream): VAD voice windows and speech starts, finals, ASR flushes, the media clock.
In (upstream, from the speaker): bot started/stopped speaking, and the words heard of a
cancelled reply. Out: :class:`~agent.frames.BotOutputFrame` pause / resume / cancel, sent
downstream before the tick's clock frame so the speaker acts within the same tick; timeline
events ``barge_in_pause``, ``barge_in_resume``, ``barge_in``, ``backchannel`` and
``bot_interrupted`` (with the heard text). After a resume, a
:class:`~agent.frames.FalseAlarmFrame` goes upstream so the turn controller drops that sound's
words instead of answering them. On an interruption the conversation context keeps only what
the user heard of the reply, marked ``"interrupted": True``.
"""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.bargein.controller import BargeInController, BargeInEvent, BargeInSettings
from agent.events import Final, Timeline
from agent.frames import (
    AsrFlushedFrame,
    BotHeardFrame,
    BotOutputFrame,
    FalseAlarmFrame,
    MediaClockFrame,
    VoiceWindowFrame,
    live_time,
    media_time,
    stamp,
)

_TIMELINE = {"pause": "barge_in_pause", "resume": "barge_in_resume", "interrupt": "barge_in"}
_SPEAKER = {"pause": "pause", "resume": "resume", "interrupt": "cancel"}


class BargeInProcessor(FrameProcessor):
    """Pauses the bot when the user's voice comes in, then cancels or resumes it."""

    def __init__(
        self, settings: BargeInSettings, context: LLMContext, timeline: Timeline, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._controller = BargeInController(settings)
        self._context = context
        self._timeline = timeline
        self._live = 0.0  # live time of the latest evidence

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        c = self._controller
        events: list[BargeInEvent] = []
        if isinstance(frame, BotHeardFrame):
            self._keep_heard(frame)
        elif direction == FrameDirection.UPSTREAM and isinstance(frame, BotStartedSpeakingFrame):
            c.bot_started(media_time(frame))
        elif direction == FrameDirection.UPSTREAM and isinstance(frame, BotStoppedSpeakingFrame):
            c.bot_finished(media_time(frame))
        elif isinstance(frame, VoiceWindowFrame):
            self._live = live_time(frame)
            events = c.voice(frame.t, frame.dt, frame.confidence)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            c.speech_started(media_time(frame))
        elif isinstance(frame, TranscriptionFrame) and isinstance(frame.result, Final):
            self._live = max(self._live, live_time(frame))
            events = c.final(list(frame.result.words), media_time(frame))
        elif isinstance(frame, AsrFlushedFrame):
            self._live = max(self._live, live_time(frame))
            events = c.flushed(media_time(frame))
        elif isinstance(frame, MediaClockFrame):
            events = c.tick(frame.t)
        for event in events:
            await self._act(event)
        await self.push_frame(frame, direction)

    async def _act(self, event: BargeInEvent) -> None:
        live = max(event.t, self._live)
        fields = {"onset": round(event.onset, 3), "reason": event.reason}
        if event.words:
            fields["words"] = " ".join(event.words)
        if event.action == "backchannel":
            self._timeline.add("backchannel", event.t, live, **fields)
            return
        self._timeline.add(_TIMELINE[event.action], event.t, live, **fields)
        out = BotOutputFrame(action=_SPEAKER[event.action])  # type: ignore[arg-type]
        await self.push_frame(stamp(out, event.t, live))
        if event.action == "resume":  # the turn controller must not answer that sound
            alarm = FalseAlarmFrame(onset=event.onset)
            await self.push_frame(stamp(alarm, event.t, live), FrameDirection.UPSTREAM)

    def _keep_heard(self, frame: BotHeardFrame) -> None:
        """The reply was cut: the context keeps only the words the user heard."""
        t = media_time(frame)
        self._timeline.add("bot_interrupted", t, live_time(frame), heard=frame.text)
        heard: Any = {"role": "assistant", "content": frame.text, "interrupted": True}
        messages = self._context.get_messages()
        for i in range(len(messages) - 1, -1, -1):
            m = messages[i]
            if isinstance(m, dict) and m.get("role") == "assistant":
                messages[i] = heard
                self._context.set_messages(messages)
                return
        self._context.add_message(heard)
