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
    """Answers each user turn with the next scripted line, in order.

    A turn is known by how many user messages the context holds, so asking twice for the same
    turn (a speculative reply, then the real one) gives the same line, and a reply that was
    never used does not use up a line.
    """

    def __init__(self, replies: Sequence[str], settings: ScriptedLLMSettings) -> None:
        self._replies = list(replies)
        self._settings = settings
        self._given: dict[int, str] = {}  # user messages in the context -> the line given

    async def reply(self, context: LLMContext) -> list[Token]:
        s = self._settings
        turn = sum(1 for m in context.get_messages() if isinstance(m, dict) and m.get("role") == "user")
        if turn not in self._given:
            used = len(self._given)
            self._given[turn] = self._replies[used] if used < len(self._replies) else s.fallback
        return split_tokens(self._given[turn], s.ttft_s, s.token_interval_s)
