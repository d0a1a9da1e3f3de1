"""The user-turn state machine: ends a turn only on a detector's word *and* complete finals.

Pure and clock-free: it is told about speech starts and stops, finals and flushes, each stamped in
media time, and asked on every tick what happens now::

    user    ===== turn ====|.. pause ..|== resumed ==|........ pause ..........
    events  ^turn_start                               ^speech_end
                                                            ^detector: done
                                                            ^finals cover speech_end -> turn_end

A turn ends at the first tick where (1) some detector said the current pause ends the turn,
(2) the finals cover the user's speech up to the pause (``audio_end >= speech_end``), or
``final_wait_max_s`` after (1) if the recogniser never reports back (longer while a cloud
recogniser reconnects: :meth:`TurnController.recogniser_link`), and (3) no voice is coming
in right now (the VAD confirms a restart only ``start_secs`` after it began). Partial transcripts are
never an input. A turn whose finals hold no word (a cough, a door) is discarded, not ended, and
so is a backchannel ("mm-hmm", "right") said while the bot was talking, or a reading with more
words than that speech could hold: they ask for no reply.
Words that arrive after their turn ended (a recogniser slower than ``final_wait_max_s``) are not
dropped: they join the next turn.

A likely end comes first when a detector says "not yet" with a score of at least ``eager_score``
(finals complete): an ``eager_end`` with the text so far, so the LLM may start early. If the user
goes on, ``turn_resumed`` withdraws it; the ``turn_end`` carries the eager text, and a reply
prepared on it is used only if the final text is the same::

    user    ===== turn ====|...... pause ......|== more ==|.... pause ....
    events                    ^eager_end         ^turn_resumed      ^turn_end (eager_text: None)
    user    ===== turn ====|...... pause .............................
    events                    ^eager_end            ^turn_end (eager_text == text: reply ready)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from agent.bargein.backchannel import is_backchannel, too_many_words
from agent.events import Final, Word
from agent.turn.detectors import Detector, PauseContext, Verdict

_EPS = 1e-6
_FALSE_ALARM_SLACK_S = 0.3  # Whisper stamps a word's start a little before the VAD onset

TurnEventKind = Literal["turn_start", "turn_end", "turn_discarded", "eot_check", "eager_end", "turn_resumed"]


class TurnSettings(BaseModel):
    """Turn controller knobs (seconds)."""

    final_wait_max_s: float = Field(
        2.0, description="after a detector says done, how long to wait for finals at most (s)"
    )
    eager_score: float | None = Field(
        0.5,
        description="a 'not yet' verdict scoring at least this is a likely end: the reply may be "
        "prepared early (None: never)",
    )


@dataclass(frozen=True)
class TurnEvent:
    """A decision at media time ``t`` about user turn number ``index`` (0-based)."""

    kind: TurnEventKind
    t: float
    index: int
    text: str = ""
    words: tuple[Word, ...] = ()
    verdict: Verdict | None = None
    speech_end: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


class TurnController:
    """Decides when user turns start and end from media-time evidence."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        settings: TurnSettings,
        audio: Callable[[float, float], np.ndarray],
    ) -> None:
        self._detectors = list(detectors)
        self._settings = settings
        self._audio = audio
        self._index = 0
        self._in_turn = False
        self._speaking = False
        self._turn_start = 0.0
        self._speech_end: float | None = None
        self._covered = 0.0
        self._words: list[Word] = []
        self._done: Verdict | None = None
        self._bot_talking = False
        self._bot_during_turn = False
        self._eager_text: str | None = None  # the text an eager end was sent with, this pause
        self._voice_since: float | None = None  # a voiced run of VAD windows is under way
        self._heard_until: float | None = None  # end of the last VAD window (None: no windows fed)
        self._link_down = False  # the recogniser's link is down: its finals will be late
        self._caught_up_at = 0.0  # when a backlog replayed after a reconnect has surely been read

    @property
    def in_turn(self) -> bool:
        return self._in_turn

    @property
    def pending_final(self) -> bool:
        """True while the user's speech up to the current pause is not yet covered by finals."""
        return self._speech_end is not None and self._covered < self._speech_end - _EPS

    def bot_talking(self, talking: bool) -> None:
        """The bot's audio started (True) or ended (False)."""
        self._bot_talking = talking
        if talking and self._in_turn:
            self._bot_during_turn = True

    def speech_started(self, t: float, onset: float) -> list[TurnEvent]:
        """The VAD confirmed speech at ``t`` that began at ``onset``."""
        self._speaking = True
        if not self._in_turn:
            self._in_turn = True
            self._bot_during_turn = self._bot_talking
            self._turn_start = onset
            self._speech_end = None
            self._done = None
            return [TurnEvent("turn_start", t, self._index, extra={"onset": round(onset, 3)})]
        # The user went on after a pause: whatever the detectors thought of it no longer holds.
        self._speech_end = None
        self._done = None
        if self._eager_text is not None:
            self._eager_text = None
            return [TurnEvent("turn_resumed", t, self._index)]
        return []

    def speech_stopped(self, t: float, speech_end: float) -> None:
        """The VAD confirmed at ``t`` that speech stopped at ``speech_end``."""
        self._speaking = False
        if self._in_turn:
            self._speech_end = speech_end
            self._done = None
            for d in self._detectors:
                d.reset()

    def recogniser_link(self, t: float, up: bool, backlog_s: float = 0.0) -> None:
        """The recogniser's link to its provider went down at ``t``, or came back with
        ``backlog_s`` of audio replayed to read again. Finals are late for a known reason then:
        the wait for them does not run while the link is down, and runs ``final_wait_max_s``
        from the time the backlog could have been read at real-time speed::

            link     ==up==|..... down .....|up, backlog 6 s ..........................
            wait           (not running)                      t+6 s |-- final_wait_max_s --|
            a turn ends as soon as the finals cover its speech, whatever the wait
        """
        self._link_down = not up
        if up:
            self._caught_up_at = max(self._caught_up_at, t + backlog_s)

    def false_alarm(self, onset: float, t: float) -> list[TurnEvent]:
        """Barge-in found that the sound since ``onset`` was no turn: drop every word from it
        (a hallucinated reading may stamp words after the speech) and discard the turn if it
        began there."""
        self._words = [w for w in self._words if w.start < onset - _FALSE_ALARM_SLACK_S]
        if not self._in_turn or self._speaking or self._turn_start < onset - _FALSE_ALARM_SLACK_S:
            return []
        self._in_turn = False
        self._speech_end = None
        self._done = None
        self._eager_text = None
        return [TurnEvent("turn_discarded", t, self._index, extra={"false_alarm": round(onset, 3)})]

    def final(self, final: Final) -> None:
        """Immutable words arrived; they also cover the audio up to ``final.audio_end``."""
        self._words.extend(final.words)
        self.flushed(final.audio_end)

    def flushed(self, audio_end: float) -> None:
        """The recogniser has no final pending for audio before ``audio_end``."""
        self._covered = max(self._covered, audio_end)

    def tick(self, now: float) -> list[TurnEvent]:
        """Media time advanced to ``now``: consult detectors, maybe end the turn."""
        if not self._in_turn or self._speaking or self._speech_end is None:
            return []
        speech_end = self._speech_end
        # Detectors judge the silence heard so far: up to the last VAD window, not to the tick
        # (the window under way may hold the user going on).
        heard = now if self._heard_until is None else min(now, self._heard_until)
        pause = PauseContext(
            now=heard,
            speech_end=speech_end,
            turn_start=self._turn_start,
            text=self._turn_text(speech_end),
            audio=self._audio,
            cut_in=self._bot_during_turn,
            finals_pending=self.pending_final,
        )
        events: list[TurnEvent] = []
        for detector in self._detectors:
            verdict = detector.check(pause)
            if verdict is None:
                continue
            events.append(TurnEvent("eot_check", now, self._index, verdict=verdict))
            if verdict.done and self._done is None:
                self._done = verdict
            elif self._likely(verdict):
                self._eager_text = self._turn_text(speech_end)
                events.append(
                    TurnEvent(
                        "eager_end",
                        now,
                        self._index,
                        self._eager_text,
                        verdict=verdict,
                        speech_end=speech_end,
                    )
                )
        if self._done is not None and self._voice_since is None:
            waited = now - max(self._done.t, self._caught_up_at)
            timed_out = not self._link_down and waited >= self._settings.final_wait_max_s - _EPS
            if not self.pending_final or timed_out:
                events.append(self._end_turn(now, speech_end, self._done, timed_out=self.pending_final))
        return events

    def voice(self, window_end: float, voiced: bool) -> None:
        """One VAD window. While voice is coming in the turn is not ended: the VAD confirms a new
        start only ``start_secs`` later, and the user may be going on right now."""
        self._heard_until = window_end
        if not voiced:
            self._voice_since = None
        elif self._voice_since is None:
            self._voice_since = window_end

    def _likely(self, verdict: Verdict) -> bool:
        """A first 'not yet, but probably' for this pause, with the finals complete."""
        s = self._settings
        return (
            s.eager_score is not None
            and not verdict.done
            and not verdict.ahead
            and verdict.score is not None
            and verdict.score >= s.eager_score
            and self._eager_text is None
            and self._done is None
            and not self.pending_final
            and bool(self._turn_words(self._speech_end or 0.0))
        )

    def _turn_words(self, speech_end: float) -> list[Word]:
        return [w for w in self._words if w.start < speech_end + _EPS]

    def _turn_text(self, speech_end: float) -> str:
        return " ".join(w.text for w in self._turn_words(speech_end))

    def _end_turn(self, now: float, speech_end: float, verdict: Verdict, timed_out: bool) -> TurnEvent:
        words = tuple(self._turn_words(speech_end))
        self._words = [w for w in self._words if w.start >= speech_end + _EPS]
        self._in_turn = False
        self._speech_end = None
        self._done = None
        extra: dict[str, object] = {"finals_timed_out": True} if timed_out else {}
        text = " ".join(w.text for w in words)
        if self._eager_text is not None:
            extra["eager_text"], self._eager_text = self._eager_text, None
        if self._bot_during_turn and is_backchannel(w.text for w in words):
            extra["backchannel"] = text
        elif self._bot_during_turn and too_many_words(len(words), speech_end - self._turn_start):
            extra["unreadable"] = text  # more words than the speech could hold: a hallucination
        if not words or "backchannel" in extra or "unreadable" in extra:
            return TurnEvent(
                "turn_discarded",
                now,
                self._index,
                verdict=verdict,
                speech_end=speech_end,
                extra=extra,
            )
        event = TurnEvent(
            "turn_end", now, self._index, text, words, verdict, speech_end=speech_end, extra=extra
        )
        self._index += 1
        return event
