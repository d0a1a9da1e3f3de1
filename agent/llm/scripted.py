"""Scripted replies: the scenario's agent lines, streamed like an LLM with a set first-token time."""

from __future__ import annotations

from collections.abc import Sequence

from pipecat.processors.aggregators.llm_context import LLMContext
from pydantic import BaseModel, Field

from agent.llm.reply import Token, split_tokens


class ScriptedLLMSettings(BaseModel):
    """How the scripted replies are streamed (media seconds)."""

    ttft_s: float = Field(0.35, description="time to first token after the request (s)")
    token_interval_s: float = Field(0.02, description="time between tokens (s)")
    fallback: str = Field("Okay.", description="reply once the script has run out")


class ScriptedReplies:
    """Answers each request with the next scripted line, in order."""

    def __init__(self, replies: Sequence[str], settings: ScriptedLLMSettings) -> None:
        self._replies = list(replies)
        self._settings = settings
        self._next = 0

    async def reply(self, context: LLMContext) -> list[Token]:
        s = self._settings
        if self._next < len(self._replies):
            text = self._replies[self._next]
            self._next += 1
        else:
            text = s.fallback
        return split_tokens(text, s.ttft_s, s.token_interval_s)
