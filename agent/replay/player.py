"""The scenario's user side on the media clock: which user audio plays when, and the truth.

The player is a pure state machine. Each tick the runner tells it the media time and what the
bot is doing (a :class:`BotView`); it returns the next chunk of microphone audio. A step starts
by its rule, measured from the end of the previous step::

    previous step ends ─┬─ bot replies ... bot quiet ── gap_s ──► next step  (default)
                        ├─ bot starts ── after_bot_start ──────► next step  (cut-in)
                        ├─ after_previous ─────────────────────► next step  (whatever the bot does)
                        └─ no reply within reply_timeout_s ────► next step

After a step that is not a turn (silence, noise, backchannel) no reply is awaited: the default
rule waits only for the bot to be quiet.

Steps start on the media grid (:func:`agent.media.on_grid`, rounded up): a step's audio then
meets the VAD windows at the same phase in every run, whatever the bot's timing, so two runs of a
scenario (another detector, a reconnecting provider) hear each step the same way.

Every clip placed is recorded as ground truth in media time (:class:`TruthStep`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agent.media import SAMPLE_RATE, on_grid
from agent.replay.assemble import Clip
from agent.replay.scenario import Scenario


class BotView(Protocol):
    """What the user can tell about the bot: is it talking, since when, when did it stop."""

    @property
    def speaking(self) -> bool: ...

    @property
    def speech_started_at(self) -> float | None: ...

    @property
    def last_stop(self) -> float | None: ...


@dataclass(frozen=True)
class TruthStep:
    """Where one step really was, in media seconds. ``end`` is the true end of a user turn."""

    index: int
    kind: str
    text: str
    start: float
    end: float
    pauses: tuple[tuple[float, float], ...]
    clip_start: float
    clip_end: float

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.index,
            "kind": self.kind,
            "text": self.text,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "pauses": [[round(a, 3), round(b, 3)] for a, b in self.pauses],
        }


@dataclass
class _Playing:
    clip: Clip
    start: float  # media time of the clip's first sample


@dataclass
class ScenarioPlayer:
    """Plays a scenario's steps as microphone audio, reacting to the bot."""

    scenario: Scenario
    clips: list[Clip]
    truth: list[TruthStep] = field(default_factory=list)
    _next: int = 0
    _playing: _Playing | None = None
    _prev_end: float = 0.0  # when the previous step (or the lead-in) ended
    _reply_start: float | None = None  # first bot speech start at or after _prev_end
    _bot_heard: bool = False  # the bot has spoken since _prev_end
    _done_at: float | None = None

    @property
    def done(self) -> bool:
        return self._done_at is not None

    def chunk(self, t: float, n: int, bot: BotView) -> np.ndarray:
        """Microphone audio for the ``n`` samples starting at media time ``t``."""
        self._watch_bot(bot)
        out = np.zeros(n, dtype=np.float32)
        pos = 0
        while pos < n and not self.done:
            now = t + pos / SAMPLE_RATE
            if self._playing is None:
                begin = self._start_time(now, bot)
                begin = None if begin is None else on_grid(begin, up=True)
                if begin is None or begin >= t + n / SAMPLE_RATE:
                    break
                pos = max(pos, round((begin - t) * SAMPLE_RATE))
                self._begin(t + pos / SAMPLE_RATE)
                continue
            p = self._playing
            offset = round((t - p.start) * SAMPLE_RATE) + pos
            take = min(n - pos, len(p.clip.audio) - offset)
            out[pos : pos + take] = p.clip.audio[offset : offset + take]
            pos += take
            if offset + take >= len(p.clip.audio):
                self._prev_end = p.start + p.clip.duration
                self._playing = None
                self._reply_start = None
                self._bot_heard = bot.speaking
        return out

    def _watch_bot(self, bot: BotView) -> None:
        if bot.speaking:
            self._bot_heard = True
            started = bot.speech_started_at
            if self._reply_start is None and started is not None and started >= self._prev_end - 1e-9:
                self._reply_start = started

    def _start_time(self, now: float, bot: BotView) -> float | None:
        """When the next step (or the end) starts, if that is known by ``now``."""
        sc = self.scenario
        if self._next == 0 and sc.greeting is None:
            return sc.lead_in_s
        step = sc.turns[self._next] if self._next < len(sc.turns) else None
        rule = step.start if step is not None else None
        timeout = self._prev_end + sc.reply_timeout_s
        if rule is not None and rule.after_previous is not None:
            return self._prev_end + rule.after_previous
        if rule is not None and rule.after_bot_start is not None:
            if self._reply_start is not None:
                return self._reply_start + rule.after_bot_start
            return timeout if now >= timeout else None
        # At the end of the scenario the tail follows the last reply.
        gap = sc.tail_s if rule is None else (sc.gap_s if rule.gap_s is None else rule.gap_s)
        previous = sc.turns[self._next - 1] if self._next > 0 else None
        expects_reply = previous.is_turn if previous is not None else True  # or the greeting
        if bot.speaking:
            return None
        quiet_since = max(self._prev_end, bot.last_stop or 0.0)
        if not expects_reply or self._bot_heard:
            return quiet_since + gap
        return timeout if now >= timeout else None

    def _begin(self, at: float) -> None:
        if self._next >= len(self.clips):
            self._done_at = at
            return
        clip = self.clips[self._next]
        self._playing = _Playing(clip, at)
        self.truth.append(
            TruthStep(
                index=self._next,
                kind=clip.kind,
                text=clip.text,
                start=at + clip.speech[0],
                end=at + clip.speech[1],
                pauses=tuple((at + a, at + b) for a, b in clip.pauses),
                clip_start=at,
                clip_end=at + clip.duration,
            )
        )
        self._next += 1
