"""Any OpenAI-compatible chat server through the official ``openai`` client.

Switched on by ``OPENAI_API_KEY`` or ``OPENAI_BASE_URL`` (the client's own variables; a local
server such as llama.cpp or vLLM needs only the base URL). The reply is streamed; each token's
delay is the measured time since the request, so the replay places it where it really came, and a
live call (:meth:`OpenAIReplies.stream`) passes each token on as it arrives.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

from pipecat.processors.aggregators.llm_context import LLMContext
from pydantic import BaseModel, Field

from agent.llm.reply import Token


class OpenAISettings(BaseModel):
    """Chat completion settings."""

    model: str = Field("gpt-4o-mini", description="model name (env OPENAI_MODEL overrides)")
    system_prompt: str = Field(
        "You are a helpful voice assistant. Answer in one or two short spoken sentences.",
        description="system message put before the conversation",
    )
    max_tokens: int = Field(120, description="reply length cap")


def openai_configured() -> bool:
    """True when the environment asks for an OpenAI-compatible server."""
    return bool(os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"))


class LLMConfigError(RuntimeError):
    """The LLM could not be reached or rejected the request (one line, never the key)."""


class OpenAIReplies:
    """Streams a chat completion and timestamps each piece of text on arrival."""

    def __init__(self, settings: OpenAISettings) -> None:
        from openai import AsyncOpenAI

        self._settings = settings
        self._model = os.environ.get("OPENAI_MODEL", settings.model)
        # A local server needs no key, but the client insists on one.
        self._client = AsyncOpenAI(api_key=os.environ.get("OPENAI_API_KEY") or "not-needed")

    async def reply(self, context: LLMContext) -> list[Token]:
        return [token async for token in self.stream(context)]

    async def stream(self, context: LLMContext) -> AsyncIterator[Token]:
        """The reply's tokens as they arrive, each with its delay after the request."""
        messages: list[Any] = [{"role": "system", "content": self._settings.system_prompt}]
        # Only role and content go out: our own marks (``interrupted``) are not OpenAI fields.
        messages += [
            {"role": m["role"], "content": m.get("content", "")}
            for m in context.get_messages()
            if isinstance(m, dict) and "role" in m
        ]
        begin = time.perf_counter()
        try:
            stream = await self._client.chat.completions.create(
                model=self._model,
                messages=messages,
                max_tokens=self._settings.max_tokens,
                stream=True,
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield Token(chunk.choices[0].delta.content, time.perf_counter() - begin)
        except Exception as e:
            raise LLMConfigError(
                f"LLM request to {self._client.base_url} failed: {type(e).__name__}: {e}"
            ) from e
