"""What a person talking to the bot should see: the turn state, the conversation, the latencies.

Pure: it reads timeline events (the dicts :class:`~agent.events.Timeline` holds), in the order they
were added, and keeps a view of the conversation that the web page and the terminal status line
both draw. Nothing here reads a clock: every time is the event's media time.

States, and the events that move between them::

    listening ──vad_start──► user speaking ──turn_end──► thinking ──bot_audio_start──► bot speaking
        ▲                          │ vad_stop (no turn under way)                        │
        └──────────────────────────┘                                                    │
        ▲                                          bot_paused                          │
        │            bot_audio_stop (not cut) ◄── bot speaking ──────────► interrupted ◄┘
        │                                            ▲                       │     │
        │                                            └── resumed ◄─bot_resumed     │ bot_interrupted
        └───────────────── turn_end ... (the user's new turn) ◄────────────────────┘

Per user turn: end-of-turn latency is the decision's media time minus the end of speech the
turn controller saw (``turn_end.speech_end``, the VAD's edge); voice-to-voice latency is the first
bot audio of the reply minus that same end of speech. The transcript keeps finals and the partial
apart: ``finals`` only ever grows, and ``partial`` is what comes after it for now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["listening", "user speaking", "thinking", "bot speaking", "interrupted", "resumed"]


@dataclass
class Line:
    """One line of the conversation: a user turn or a bot reply."""

    who: Literal["user", "bot"]
    text: str = ""
    """User: the finals so far (the turn's words once it ended). Bot: the reply as written."""
    done: bool = False
    eot_ms: float | None = None
    voice_to_voice_ms: float | None = None
    heard: str | None = None
    """Bot: the words the user heard, when the reply was cut off."""
    discarded: bool = False
    """User: words that made no turn, so far (a backchannel, a cough taken for a word)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"who": self.who, "text": self.text, "done": self.done}
        for key in ("eot_ms", "voice_to_voice_ms", "heard"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.discarded:
            out["discarded"] = True
        return out


@dataclass
class LiveStatus:
    """The conversation as the events so far tell it (feed each event once, in arrival order)."""

    state: State = "listening"
    partial: str = ""
    lines: list[Line] = field(default_factory=list)
    t: float = 0.0
    """Media time: of the latest event, or later when the shell says how much audio it has had."""
    lag_ms: dict[str, float] = field(default_factory=dict)
    """Per stage, how late its latest result came back (media time asked to media time ready)."""
    _speech_end: float | None = None  # of the turn whose reply is awaited
    _answered: Line | None = None  # the user line whose reply's first audio is awaited
    _bot_talking: bool = False

    def feed(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        self.t = max(self.t, float(event["t"]))
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(event)

    def feed_all(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.feed(event)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "partial": self.partial,
            "t": round(self.t, 3),
            "lines": [line.as_dict() for line in self.lines],
            "lag_ms": dict(self.lag_ms),
        }

    def line(self) -> str:
        """One terminal line: the state, the last user words (finals, then the partial in
        brackets) and the last turn's latencies."""
        user = next((x for x in reversed(self.lines) if x.who == "user"), None)
        words = user.text if user is not None and not user.done else ""
        if self.partial:
            words = f"{words} [{self.partial}]".strip()
        timed = next((x for x in reversed(self.lines) if x.who == "user" and x.eot_ms is not None), None)
        figures = ""
        if timed is not None:
            figures = f" | end of turn {timed.eot_ms:.0f} ms"
            if timed.voice_to_voice_ms is not None:
                figures += f", voice to voice {timed.voice_to_voice_ms:.0f} ms"
        return f"{self.t:7.1f} s  {self.state:<13} {words}{figures}"

    # -- the user -------------------------------------------------------------------------------

    def _user_line(self) -> Line:
        """The user line under way (a new one after a finished line or a bot line)."""
        last = self.lines[-1] if self.lines else None
        if last is None or last.who != "user" or last.done:
            last = Line("user")
            self.lines.append(last)
        return last

    def _open_user_line(self) -> Line | None:
        """The last line if it is the user's and not finished (a discarded one included)."""
        last = self.lines[-1] if self.lines else None
        return last if last is not None and last.who == "user" and not last.done else None

    def _on_vad_start(self, event: dict[str, Any]) -> None:
        if self.state in ("listening", "thinking") and not self._bot_talking:
            self.state = "user speaking"

    def _on_turn_start(self, event: dict[str, Any]) -> None:
        if not self._bot_talking:
            self.state = "user speaking"

    def _on_vad_stop(self, event: dict[str, Any]) -> None:
        if self.state == "user speaking":
            self.state = "listening"  # a pause; turn_end says when the turn is over

    def _on_partial(self, event: dict[str, Any]) -> None:
        self.partial = str(event.get("text", ""))

    def _on_final(self, event: dict[str, Any]) -> None:
        text = str(event.get("text", "")).strip()
        self.partial = ""
        if text:
            line = self._user_line()
            line.text = f"{line.text} {text}".strip()
            line.discarded = False  # more words: the turn may go on with them

    def _on_turn_end(self, event: dict[str, Any]) -> None:
        line = self._user_line()
        line.text = str(event.get("text", line.text))
        line.done, line.discarded = True, False
        speech_end = event.get("speech_end")
        if speech_end is not None:
            line.eot_ms = round(1000 * (float(event["t"]) - float(speech_end)))
            self._speech_end = float(speech_end)
        self._answered = line
        self.partial = ""
        self.state = "thinking"

    def _on_turn_discarded(self, event: dict[str, Any]) -> None:
        # Struck out for now, but left open: the controller may carry the words into the turn
        # the user goes on with (its turn_end then says which words the turn was).
        line = self._open_user_line()
        if line is not None:
            line.discarded = True
        self.partial = ""
        if self.state == "user speaking":
            self.state = "listening"

    # -- the bot --------------------------------------------------------------------------------

    def _on_stage_lag(self, event: dict[str, Any]) -> None:
        self.lag_ms[str(event.get("stage", "?"))] = float(event.get("lag_ms", 0.0))

    def _on_llm_done(self, event: dict[str, Any]) -> None:
        text = str(event.get("text", ""))
        if text:
            self.lines.append(Line("bot", text, done=True))

    def _on_bot_audio_start(self, event: dict[str, Any]) -> None:
        self._bot_talking = True
        self.state = "bot speaking"
        if self._answered is not None and self._speech_end is not None:
            self._answered.voice_to_voice_ms = round(1000 * (float(event["t"]) - self._speech_end))
        self._answered = None

    def _on_bot_paused(self, event: dict[str, Any]) -> None:
        self.state = "interrupted"

    def _on_bot_resumed(self, event: dict[str, Any]) -> None:
        self.state = "resumed"

    def _on_bot_interrupted(self, event: dict[str, Any]) -> None:
        self.state = "interrupted"
        self._bot_talking = False
        bot = next((x for x in reversed(self.lines) if x.who == "bot"), None)
        if bot is not None:
            bot.heard = str(event.get("heard", ""))

    def _on_bot_audio_stop(self, event: dict[str, Any]) -> None:
        self._bot_talking = False
        if not event.get("interrupted") and self.state in ("bot speaking", "resumed"):
            self.state = "listening"
