"""Barge-in: when the user's voice comes in while the bot talks, pause, then cancel or resume.

A pure state machine on media time; the Pipecat shell (:mod:`agent.bargein.processor`) feeds it
and carries out its actions. Timeline of a real interruption and of a false alarm::

    bot audio   ========|                       (cancelled: heard part kept)
    user voice         |‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾‾
                       ^onset ^pause (voiced pause_after_s: one VAD window)
                                    ^interrupt: a committed word that is no backchannel,
                                                or voiced speech for confirm_speech_s

    bot audio   ========|  ...  |=========      (resumed from the word it was cut at)
    user voice         |‾‾‾|  "mm-hmm"
                            ^VAD stop ^flush: only backchannel words -> resume
                       (or: voice quiet for resume_silence_s and no speech segment open)

States: ``quiet`` (bot silent), ``speaking``, ``paused``. An interruption ends the bot's reply,
so it goes back to ``quiet``; a resume goes back to ``speaking``, where a second barge-in can
pause it again. Only evidence after the pause counts: finals of words that started before it
belong to an earlier episode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from agent.bargein.backchannel import is_backchannel, too_many_words
from agent.events import Word


class BargeInSettings(BaseModel):
    """Barge-in knobs (seconds)."""

    enabled: bool = Field(True, description="pause/cancel the bot when the user's voice comes in")
    confidence: float = Field(0.6, description="VAD probability at or above which a window is voice")
    pause_after_s: float = Field(
        0.032,
        description="voiced audio in a row that pauses the bot (s): one 32 ms VAD window; two "
        "(0.064) stopped 30 ms later and false-alarmed no less on the bundled scenarios",
    )
    confirm_speech_s: float = Field(
        1.2, description="voiced audio in one episode that confirms an interruption without words (s)"
    )
    resume_silence_s: float = Field(
        0.6, description="with no speech segment open, voice quiet this long resumes the bot (s)"
    )
    resume_after_s: float = Field(
        3.0, description="paused this long with nothing confirmed and no voice: resume anyway (s)"
    )
    min_word_p: float = Field(
        0.45,
        description="words confirm an interruption only if Whisper's mean probability for them is "
        "at least this: its readings of 'mm-hmm' measured 0.26-0.39, a real 'Wait...' over echo "
        "0.50, clear speech 0.85-0.95",
    )


Action = Literal["pause", "resume", "interrupt", "backchannel"]


@dataclass(frozen=True)
class BargeInEvent:
    """What to do at media time ``t``; ``onset`` is when the user's voice began, ``words`` the
    committed words behind the decision, ``reason`` says why in a few words."""

    action: Action
    t: float
    onset: float
    reason: str = ""
    words: tuple[str, ...] = ()


@dataclass
class _Episode:
    onset: float
    paused_at: float
    voiced_s: float = 0.0
    words: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)  # Whisper's, one per word
    segment_open: bool = False  # a VAD speech segment started and is not yet flushed
    quiet_since: float | None = None


class BargeInController:
    """Bot speaking / paused / quiet, driven by voice windows, VAD segments and finals."""

    def __init__(self, settings: BargeInSettings) -> None:
        self._s = settings
        self.state: Literal["quiet", "speaking", "paused"] = "quiet"
        self._run_start: float | None = None  # start of the current voiced run
        self._episode: _Episode | None = None
        self._segment_open = False
        self._last_window: float | None = None

    def bot_started(self, t: float) -> None:
        """The bot's audio started playing."""
        if self.state == "quiet":
            self.state = "speaking"

    def bot_finished(self, t: float) -> None:
        """The bot's audio ended by itself (its reply was played to the end)."""
        if self.state == "speaking":
            self.state = "quiet"

    def voice(self, window_end: float, window_s: float, confidence: float) -> list[BargeInEvent]:
        """One VAD window of the (echo-cancelled) microphone."""
        voiced = confidence >= self._s.confidence
        if self._last_window is not None and window_end - window_s > self._last_window + 1e-6:
            self._run_start = None  # a gap in the windows: no run goes across it
        self._last_window = window_end
        if voiced and self._run_start is None:
            self._run_start = window_end - window_s
        elif not voiced:
            self._run_start = None
        ep = self._episode
        if self.state == "paused" and ep is not None:
            if voiced:
                ep.voiced_s += window_s
                ep.quiet_since = None
            elif ep.quiet_since is None:
                ep.quiet_since = window_end - window_s
            return self._check(window_end)
        run = 0.0 if self._run_start is None else window_end - self._run_start
        if self.state == "speaking" and self._s.enabled and voiced and run >= self._s.pause_after_s - 1e-9:
            return self._pause(window_end, window_end - run)
        return []

    def _pause(self, t: float, onset: float) -> list[BargeInEvent]:
        self._episode = _Episode(onset, t, voiced_s=t - onset, segment_open=self._segment_open)
        self.state = "paused"
        return [BargeInEvent("pause", t, onset, "voice")]

    def speech_started(self, t: float) -> None:
        """The VAD confirmed a speech segment (its words will be flushed when it stops)."""
        self._segment_open = True
        if self._episode is not None:
            self._episode.segment_open = True

    def flushed(self, t: float) -> list[BargeInEvent]:
        """The recogniser finalised the segment: every word of it has been seen."""
        self._segment_open = False
        if self.state != "paused" or self._episode is None:
            return []
        self._episode.segment_open = False
        return self._check(t)

    def final(self, words: list[Word], t: float) -> list[BargeInEvent]:
        """Committed words (never partials)."""
        ep = self._episode
        if self.state != "paused" or ep is None:
            return []
        new = [w for w in words if w.end > ep.onset - 0.05]
        if not new:
            return []
        ep.words.extend(w.text for w in new)
        ep.probabilities.extend(w.p for w in new)
        if is_backchannel(ep.words) or too_many_words(len(ep.words), ep.voiced_s):
            return []  # not (yet) a reason to stop; an unreadable final is no reason at all
        if sum(ep.probabilities) / len(ep.probabilities) < self._s.min_word_p:
            return []  # words Whisper itself doubts: what it makes of a hum or a cough
        return self._end(BargeInEvent("interrupt", t, ep.onset, "words", tuple(ep.words)))

    def tick(self, t: float) -> list[BargeInEvent]:
        """Media time moved on to ``t``."""
        if self.state != "paused":
            return []
        return self._check(t)

    def _check(self, t: float) -> list[BargeInEvent]:
        ep = self._episode
        assert ep is not None
        s = self._s
        if ep.voiced_s >= s.confirm_speech_s - 1e-9:
            return self._end(BargeInEvent("interrupt", t, ep.onset, "long speech", tuple(ep.words)))
        quiet_for = 0.0 if ep.quiet_since is None else t - ep.quiet_since
        if ep.segment_open:
            if quiet_for >= s.resume_after_s - 1e-9:  # the flush never came back
                return self._resume(t, "timeout")
            return []
        if quiet_for >= s.resume_silence_s - 1e-9 or (ep.words and ep.quiet_since is not None):
            return self._resume(t, _kind(ep.words))
        return []

    def _resume(self, t: float, reason: str) -> list[BargeInEvent]:
        ep = self._episode
        assert ep is not None
        out = []
        if reason == "backchannel":
            out.append(BargeInEvent("backchannel", t, ep.onset, reason, tuple(ep.words)))
        self._episode = None
        self.state = "speaking"
        out.append(BargeInEvent("resume", t, ep.onset, reason, tuple(ep.words)))
        return out

    def _end(self, event: BargeInEvent) -> list[BargeInEvent]:
        self._episode = None
        self.state = "quiet"
        return [event]


def _kind(words: list[str]) -> str:
    """Why an episode with nothing confirmed ends: no words, backchannel words, or unreadable ones."""
    if not words:
        return "noise"
    return "backchannel" if is_backchannel(words) else "unreadable"
