"""The LLM processor: turns an ``LLMContextFrame`` into a token stream placed on media time.

A :class:`ReplySource` produces the reply as tokens with their delays after the request (the
scripted source uses configured delays; the OpenAI source the measured ones). The processor emits
each token when the media clock reaches it, so the rest of the pipeline sees a stream::

    turn_end ──ttft──► token ─► token ─► ... ─► token   (LLMFullResponseStart/Text/End frames)

A new request while a reply is still streaming replaces it (the unsent tokens are dropped); so
does a barge-in's cancel (:class:`~agent.frames.BotOutputFrame`).

Speculation: a request marked ``speculative`` (a likely end of turn) is generated at once and
held. At the real end it is used only if it was prepared on exactly the final text; its tokens
keep their times from the eager end, so the first ones may go out at once. Otherwise, or when
a :class:`~agent.frames.CancelSpeculationFrame` says the user went on, it is dropped::

    eager_end ──ttft──► tokens held ...      turn_end (same text): tokens out from here
    eager_end ──► held ... turn_resumed: dropped ... turn_end: a fresh request
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
from agent.frames import (
    BotOutputFrame,
    CancelSpeculationFrame,
    MediaClockFrame,
    live_time,
    media_time,
    stamp,
)


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
    not_before: tuple[float, float] = (0.0, 0.0)  # a held reply goes out no earlier than its release

    def when(self, token: Token) -> tuple[float, float]:
        """Media and live time a token goes out."""
        t, live = self.not_before
        return max(self.request_t + token.delay_s, t), max(self.request_live + token.delay_s, live)


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
        self._speculative: tuple[str, _Pending] | None = None  # (user text it answers, reply)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            if frame.metadata.get("speculative"):
                await self._prepare(frame)
            else:
                await self._start(frame)
            return
        if isinstance(frame, CancelSpeculationFrame):
            self._drop_speculation(media_time(frame), "user went on")
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

    async def _prepare(self, frame: LLMContextFrame) -> None:
        """A likely end of turn: generate the reply now, send nothing until the real end."""
        t, live = media_time(frame), live_time(frame)
        self._drop_speculation(t, "replaced")
        tokens = await self._source.reply(frame.context)
        self._speculative = (str(frame.metadata.get("text", "")), _Pending(tokens, t, live))
        self._timeline.add("speculation_started", t, live, text=self._speculative[0])

    def _drop_speculation(self, t: float, why: str) -> None:
        if self._speculative is not None:
            self._timeline.add("speculation_dropped", t, text=self._speculative[0], reason=why)
            self._speculative = None

    async def _start(self, frame: LLMContextFrame) -> None:
        if self._pending is not None:
            await self._close(cancelled=True)
        t, live = media_time(frame), live_time(frame)
        ready = self._speculative
        self._speculative = None
        if ready is not None and ready[0] == frame.metadata.get("text") == frame.metadata.get("eager_text"):
            # Prepared on exactly these finals: its tokens keep their times from the eager end.
            self._timeline.add("speculation_used", t, live, text=ready[0])
            self._pending = ready[1]
            self._pending.not_before = (t, live)
            await self._send_due(t)
            return
        if ready is not None:
            self._timeline.add("speculation_dropped", t, text=ready[0], reason="finals differ")
        tokens = await self._source.reply(frame.context)
        self._pending = _Pending(tokens, t, live)

    async def _send_due(self, now: float) -> None:
        """Send the tokens due by ``now``."""
        p = self._pending
        if p is None:
            return
        while p.sent < len(p.tokens) and p.request_t + p.tokens[p.sent].delay_s <= now + 1e-9:
            token = p.tokens[p.sent]
            t, live = p.when(token)
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
