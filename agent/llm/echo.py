"""An offline responder for live calls without an LLM: it says back what it understood.

Useful to hear the turn-taking work (when the bot answers, whether it waits for the end of a
sentence, whether it stops when cut off) with no key and no network. Streamed like the scripted
replies, with the same first-token time.
"""

from __future__ import annotations

from pipecat.processors.aggregators.llm_context import LLMContext

from agent.llm.reply import Token, split_tokens
from agent.llm.scripted import ScriptedLLMSettings


class EchoReplies:
    """Answers each turn with "I heard: <the user's words>." """

    def __init__(self, settings: ScriptedLLMSettings) -> None:
        self._settings = settings

    async def reply(self, context: LLMContext) -> list[Token]:
        said = next(
            (
                str(m.get("content", ""))
                for m in reversed(context.get_messages())
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            "",
        ).strip()
        text = f"I heard: {said.rstrip('.?!')}." if said else "Sorry, I did not catch that."
        return split_tokens(text, self._settings.ttft_s, self._settings.token_interval_s)
