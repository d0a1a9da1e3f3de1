"""The LLM processor: turns an ``LLMContextFrame`` into a token stream placed on media time.

A :class:`ReplySource` produces the reply as tokens with their delays after the request (the
scripted source uses configured delays; the OpenAI source the measured ones). The processor emits
each token when the media clock reaches it, so the rest of the pipeline sees a stream::

    turn_end ──ttft──► token ─► token ─► ... ─► token   (LLMFullResponseStart/Text/End frames)

In a replay the whole reply is asked for at the request and its tokens placed by their delays.
Live, the reply streams in the background while the media clock runs on: each token goes out at
the first tick after it arrived (a source with ``stream`` yields tokens as they come).

A new request while a reply is still streaming replaces it (the unsent tokens are dropped); so
does a barge-in's cancel (:class:`~agent.frames.BotOutputFrame`).

Speculation follows Pipecat's protocol (the turn processor sends it): an
``LLMContextFrame(speculation=True)`` (a likely end of turn) is generated at once and held; the
``UserStoppedSpeakingFrame`` of the turn it answers releases it, its tokens keeping their times
from the eager end, so the first ones may go out at once; an ``EagerEndOfTurnCancelFrame`` (the
user went on, or the finals differ) drops it::

    eager_end ──ttft──► tokens held ...      turn_end (same words): tokens out from here
    eager_end ──► held ... turn_resumed: dropped ... turn_end: a fresh request
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from pipecat.frames.frames import (
    CancelFrame,
    EagerEndOfTurnCancelFrame,
    EndFrame,
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.events import Timeline
from agent.frames import BotOutputFrame, MediaClockFrame, live_time, media_time, stamp


@dataclass(frozen=True)
class Token:
    """A piece of reply text available ``delay_s`` seconds after the request."""

    text: str
    delay_s: float


class ReplySource(Protocol):
    """Produces the reply to a conversation context."""

    async def reply(self, context: LLMContext) -> list[Token]:
        """The reply's tokens with their delays after the request."""


class StreamingSource(ReplySource, Protocol):
    """A source that can also hand its tokens over as they arrive (live calls use it)."""

    def stream(self, context: LLMContext) -> AsyncIterator[Token]:
        """The reply's tokens, each as soon as it is known."""


@dataclass
class _Pending:
    tokens: list[Token]
    request_t: float
    request_live: float
    sent: int = 0
    text: str = ""
    not_before: tuple[float, float] = (0.0, 0.0)  # a held reply goes out no earlier than its release
    complete: bool = True  # False while a live reply is still streaming in
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def when(self, token: Token) -> tuple[float, float]:
        """Media and live time a token goes out."""
        t, live = self.not_before
        return max(self.request_t + token.delay_s, t), max(self.request_live + token.delay_s, live)

    def stop(self) -> None:
        """Generate no more (a live stream still running is cancelled)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.complete = True


class LLMProcessor(FrameProcessor):
    """Streams replies from a :class:`ReplySource` on media time."""

    def __init__(
        self,
        source: ReplySource,
        context: LLMContext,
        timeline: Timeline,
        greeting: str | None = None,
        live: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._source = source
        self._context = context
        self._timeline = timeline
        self._greeting = greeting
        self._live = live
        self._pending: _Pending | None = None
        self._speculative: tuple[str, _Pending] | None = None  # (user text it answers, reply)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            if frame.speculation:
                await self._prepare(frame)
            else:
                await self._start(frame)
            return
        if isinstance(frame, EagerEndOfTurnCancelFrame):
            self._drop_speculation(media_time(frame), str(frame.metadata.get("reason", "user went on")))
        elif isinstance(frame, UserStoppedSpeakingFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._release(frame)
        elif isinstance(frame, BotOutputFrame) and frame.action == "cancel" and self._pending is not None:
            await self._close(cancelled=True)  # the user cut in: generate no more
        elif isinstance(frame, (EndFrame, CancelFrame)):
            self._drop_speculation(None, "call ended")
            if self._pending is not None:
                self._pending.stop()
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            if self._greeting is not None:
                greeting, self._greeting = self._greeting, None
                start = frame.t - frame.dt
                self._pending = _Pending(split_tokens(greeting, 0.0, 0.0), start, start)
            await self._send_due(frame.t)

    async def _reply(self, context: LLMContext, t: float, live: float) -> _Pending:
        """The reply to ``context`` asked at media time ``t``: complete (replay), or filling in
        while it streams (live)."""
        if not self._live:
            return _Pending(await self._source.reply(context), t, live)
        pending = _Pending([], t, live, complete=False)
        pending.task = asyncio.create_task(self._stream_into(pending, context))
        return pending

    async def _stream_into(self, pending: _Pending, context: LLMContext) -> None:
        try:
            stream = getattr(self._source, "stream", None)
            if stream is not None:
                async for token in stream(context):
                    pending.tokens.append(token)
            else:
                pending.tokens.extend(await self._source.reply(context))
        except Exception as e:  # a live call goes on: the reply is what arrived
            self._timeline.add("llm_error", pending.request_t, error=str(e).splitlines()[0][:200])
        finally:
            pending.complete = True

    async def _prepare(self, frame: LLMContextFrame) -> None:
        """A likely end of turn: generate the reply now, send nothing until the real end."""
        t, live = media_time(frame), live_time(frame)
        self._drop_speculation(t, "replaced")
        pending = await self._reply(frame.context, t, live)
        self._speculative = (str(frame.metadata.get("text", "")), pending)
        self._timeline.add("speculation_started", t, live, text=self._speculative[0])

    def _drop_speculation(self, t: float | None, why: str) -> None:
        if self._speculative is not None:
            if t is not None:
                self._timeline.add("speculation_dropped", t, text=self._speculative[0], reason=why)
            self._speculative[1].stop()
            self._speculative = None

    async def _release(self, frame: Frame) -> None:
        """The turn a held reply answers has ended: its tokens go out from here."""
        if self._speculative is None:
            return
        if self._pending is not None:
            await self._close(cancelled=True)
        t, live = media_time(frame), live_time(frame)
        text, self._pending = self._speculative
        self._speculative = None
        self._timeline.add("speculation_used", t, live, text=text)
        self._pending.not_before = (t, live)
        await self._send_due(t)

    async def _start(self, frame: LLMContextFrame) -> None:
        if self._pending is not None:
            await self._close(cancelled=True)
        self._drop_speculation(media_time(frame), "replaced")
        self._pending = await self._reply(frame.context, media_time(frame), live_time(frame))

    async def _send_due(self, now: float) -> None:
        """Send the tokens due by ``now``."""
        p = self._pending
        if p is None:
            return
        while p.sent < len(p.tokens) and p.request_t + p.tokens[p.sent].delay_s <= now + 1e-9:
            token = p.tokens[p.sent]
            t, live = p.when(token)
            if self._live:  # a token that arrived late goes out now, not in the past
                t = live = max(t, now)
            if p.sent == 0:
                self._timeline.add("llm_first_token", t, live)
                await self.push_frame(stamp(LLMFullResponseStartFrame(), t, live))
            p.sent += 1
            p.text += token.text
            await self.push_frame(stamp(LLMTextFrame(text=token.text), t, live))
        if p.sent == len(p.tokens) and p.complete:
            await self._close(cancelled=False)

    async def _close(self, cancelled: bool) -> None:
        p = self._pending
        assert p is not None
        self._pending = None
        p.stop()
        if p.sent == 0:
            return
        t, live = p.when(p.tokens[p.sent - 1])
        self._timeline.add("llm_done", t, live, text=p.text.strip(), cancelled=cancelled)
        self._context.add_message({"role": "assistant", "content": p.text.strip()})
        end = LLMFullResponseEndFrame()
        end.metadata["cancelled"] = cancelled  # the TTS drops an unfinished sentence
        await self.push_frame(stamp(end, t, live))


def split_tokens(text: str, ttft_s: float, interval_s: float) -> list[Token]:
    """Split text into word tokens (each keeps its trailing space) spaced ``interval_s`` apart."""
    words = text.split()
    return [
        Token(w + (" " if i < len(words) - 1 else ""), ttft_s + i * interval_s) for i, w in enumerate(words)
    ]
