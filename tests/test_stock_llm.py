"""A stock Pipecat LLM service after our turn processor never speaks a reply held for an eager end.

The turn processor speaks Pipecat's speculation protocol; here Pipecat's own ``OpenAILLMService``
(its ``SpeculationGate`` inside) answers, against a local server that speaks OpenAI's streaming
chat-completions protocol and answers ``ECHO[<last user message>]``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import numpy as np
from aiohttp import web
from pipecat.frames.frames import (
    Frame,
    LLMTextFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.openai.llm import OpenAILLMService

from agent.events import Final, Timeline, Word
from agent.frames import AsrFlushedFrame
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE
from agent.turn.controller import TurnSettings
from agent.turn.detectors import PauseContext, Verdict
from agent.turn.processor import TurnProcessor
from tests.drive import TICK, Script
from tests.test_speculation import Ramp


class LikelyOnce(Ramp):
    """'Likely' 0.2 s into the first pause only; every later pause is done at 0.3 s."""

    def __init__(self) -> None:
        super().__init__()
        self._pauses = 0

    def reset(self) -> None:
        super().reset()
        self._pauses += 1

    def check(self, p: PauseContext) -> Verdict | None:
        if self._pauses <= 1:
            return super().check(p)
        silence = round(p.now - p.speech_end, 2)
        if silence >= 0.3 and 0.3 not in self._checked:
            self._checked.add(0.3)
            return Verdict(self.name, p.now, done=True, score=0.99)
        return None


class Heard(FrameProcessor):
    """After the LLM: the reply text that got through."""

    def __init__(self) -> None:
        super().__init__()
        self.text = ""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMTextFrame):
            self.text += frame.text
        await self.push_frame(frame, direction)


async def openai_server(requests: list[str]) -> tuple[web.AppRunner, str]:
    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        said = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        requests.append(said)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for piece in ["ECHO[", said, "]"]:
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "test",
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
                ],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/v1"


def said(text: str, start: float, end: float, t: float) -> list[tuple[float, Frame]]:
    """A stretch of speech: VAD start and stop, its final and the flush, as the ASR would send."""
    words = text.split()
    step = (end - start) / len(words)
    final = Final(tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(words)), end)
    started, stopped = VADUserStartedSpeakingFrame(), VADUserStoppedSpeakingFrame()
    started.metadata["edge"], stopped.metadata["edge"] = start, end
    return [
        (start + 0.2, started),
        (t, stopped),
        (t, TranscriptionFrame(text=final.text, user_id="u", timestamp="", result=final)),
        (t, AsrFlushedFrame(audio_end=t)),
    ]


def converse(
    plan: list[tuple[float, Frame]], seconds: float, detector: Ramp | None = None
) -> tuple[str, list[str], Timeline]:
    requests: list[str] = []
    timeline = Timeline()

    async def go() -> str:
        runner, url = await openai_server(requests)
        llm = OpenAILLMService(api_key="test", base_url=url, settings=OpenAILLMService.Settings(model="test"))
        turn = TurnProcessor(
            [detector or Ramp()],
            TurnSettings(eager_score=0.5),
            LLMContext(),
            timeline,
            enable_direct_mode=True,
        )
        heard = Heard()
        async with Lockstep([Script(plan), turn, llm, heard]) as line:
            for _ in range(round(seconds / TICK)):  # in real time: the LLM answers in wall time
                began = time.perf_counter()
                await line.feed(np.zeros(round(TICK * SAMPLE_RATE), np.float32))
                await asyncio.sleep(max(0.0, TICK - (time.perf_counter() - began)))
        await runner.cleanup()
        return heard.text

    return asyncio.run(go()), requests, timeline


def kinds(timeline: Timeline) -> list[str]:
    return [
        e["type"] for e in timeline.sorted_events() if e["type"] in ("eager_end", "turn_resumed", "turn_end")
    ]


def test_a_turn_that_goes_on_after_its_eager_end_never_hears_the_held_reply() -> None:
    plan: list[Any] = said("my number is", 0.3, 1.0, 1.2)  # eager end at 1.2: the reply is made
    plan += said("four one five", 1.3, 2.0, 2.2)  # the user goes on (VAD at 1.5): it is dropped
    text, requests, timeline = converse(plan, 3.5)
    assert kinds(timeline) == ["eager_end", "turn_resumed", "eager_end", "turn_end"]
    assert "my number is" in requests  # the held reply was generated ...
    assert "ECHO[my number is]" not in text  # ... and never spoken
    assert text == "ECHO[my number is four one five]"


def test_a_held_reply_is_withdrawn_when_the_turn_ends_on_other_words() -> None:
    # No second eager end supersedes the held reply: only the withdrawal keeps the stock gate
    # from releasing it at the turn end.
    plan: list[Any] = said("my number is", 0.3, 1.0, 1.2)
    plan += said("four one five", 1.3, 2.0, 2.2)
    text, requests, timeline = converse(plan, 3.5, LikelyOnce())
    assert kinds(timeline) == ["eager_end", "turn_resumed", "turn_end"]
    assert requests == ["my number is", "my number is four one five"]
    assert text == "ECHO[my number is four one five]"


def test_an_eager_end_on_the_final_words_is_released_at_the_turn_end_without_a_second_request() -> None:
    text, requests, timeline = converse(said("what time is it", 0.3, 1.0, 1.2), 3.0)
    assert kinds(timeline) == ["eager_end", "turn_end"]
    assert requests == ["what time is it"]
    assert text == "ECHO[what time is it]"
