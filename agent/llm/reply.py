"""The LLM processor: turns an ``LLMContextFrame`` into a token stream placed on media time.

A :class:`ReplySource` produces the reply as tokens with their delays after the request (the
scripted source uses configured delays; the OpenAI source the measured ones). The processor emits
each token when the media clock reaches it, so the rest of the pipeline sees a stream::

    turn_end ──ttft──► token ─► token ─► ... ─► token   (LLMFullResponseStart/Text/End frames)

A new request while a reply is still streaming replaces it (the unsent tokens are dropped); so
does a barge-in's cancel (:class:`~agent.frames.BotOutputFrame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
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


@dataclass
class _Pending:
    tokens: list[Token]
    request_t: float
    request_live: float
    sent: int = 0
    text: str = ""


class LLMProcessor(FrameProcessor):
    """Streams replies from a :class:`ReplySource` on media time."""

    def __init__(
        self,
        source: ReplySource,
        context: LLMContext,
        timeline: Timeline,
        greeting: str | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._source = source
        self._context = context
        self._timeline = timeline
        self._greeting = greeting
        self._pending: _Pending | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._start(frame)
            return
        if isinstance(frame, BotOutputFrame) and frame.action == "cancel" and self._pending is not None:
            await self._close(cancelled=True)  # the user cut in: generate no more
        await self.push_frame(frame, direction)
        if isinstance(frame, MediaClockFrame):
            if self._greeting is not None:
                greeting, self._greeting = self._greeting, None
                start = frame.t - frame.dt
                self._pending = _Pending(split_tokens(greeting, 0.0, 0.0), start, start)
            await self._send_due(frame.t)

    async def _start(self, frame: LLMContextFrame) -> None:
        if self._pending is not None:
            await self._close(cancelled=True)
        t, live = media_time(frame), live_time(frame)
        tokens = await self._source.reply(frame.context)
        self._pending = _Pending(tokens, t, live)

    async def _send_due(self, now: float) -> None:
        p = self._pending
        if p is None:
            return
        while p.sent < len(p.tokens) and p.request_t + p.tokens[p.sent].delay_s <= now + 1e-9:
            token = p.tokens[p.sent]
            t = p.request_t + token.delay_s
            live = p.request_live + token.delay_s
            if p.sent == 0:
                self._timeline.add("llm_first_token", t, live)
                await self.push_frame(stamp(LLMFullResponseStartFrame(), t, live))
            p.sent += 1
            p.text += token.text
            await self.push_frame(stamp(LLMTextFrame(text=token.text), t, live))
        if p.sent == len(p.tokens):
            await self._close(cancelled=False)

    async def _close(self, cancelled: bool) -> None:
        p = self._pending
        assert p is not None
        self._pending = None
        if p.sent == 0:
            return
        last = p.tokens[p.sent - 1].delay_s
        t, live = p.request_t + last, p.request_live + last
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
