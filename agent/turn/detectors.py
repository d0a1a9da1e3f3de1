"""End-of-turn detectors: "is the user's turn over at media time ``now``, and how sure?".

A detector looks at one pause at a time. The controller calls :meth:`Detector.check` on every
tick while the user is silent, with a :class:`PauseContext`; a detector answers with a
:class:`Verdict` when it has a new opinion and ``None`` otherwise. ``reset`` starts a new pause.

::

    speech  ======|.........................................
                  ^speech_end   ^VAD stop   ^check   ^check ...
                  |<-- pause grows with every tick -------->
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from agent.latency import Stopwatch
from agent.turn.text_cues import Cue, text_cue


@dataclass(frozen=True)
class PauseContext:
    """What a detector may look at: the pause, the turn so far, and its audio.

    ``audio(start, end)`` returns the user's 16 kHz audio between two media times. ``cut_in``
    says the turn began while the bot was talking (the user is taking the floor).
    ``finals_pending`` says the recogniser has not yet made final all the speech before the
    pause: ``text`` may still lack its last words.
    """

    now: float
    speech_end: float
    turn_start: float
    text: str
    audio: Callable[[float, float], np.ndarray]
    cut_in: bool = False
    finals_pending: bool = False

    @property
    def silence(self) -> float:
        """Seconds of silence so far."""
        return self.now - self.speech_end


@dataclass(frozen=True)
class Verdict:
    """A detector's opinion at media time ``t``: ``done`` with ``score`` (None: not scored)."""

    detector: str
    t: float
    done: bool
    score: float | None = None
    compute_s: float = 0.0
    ahead: bool = False
    """A score taken ahead of its check (see ``HybridSettings.score_lead_s``): no opinion yet."""


SCORE_DECIMALS = 4
"""smart-turn's P(complete) is rounded to this many decimals before any rule reads it, so the
replay and ``agent eot-eval`` (whose evidence files keep four decimals) take the same decisions."""


class Detector(Protocol):
    """Judges pauses. Implementations keep per-pause state and must be cheap when idle."""

    name: str

    def reset(self) -> None:
        """A new pause begins."""

    def check(self, pause: PauseContext) -> Verdict | None:
        """A new opinion about the current pause at ``pause.now``, or None."""


class SilenceSettings(BaseModel):
    """Plain silence endpointing."""

    threshold_s: float = Field(0.8, description="silence after speech that ends the turn (s)")


class SilenceDetector:
    """Done once the silence reaches a threshold."""

    def __init__(self, settings: SilenceSettings, name: str = "silence") -> None:
        self.name = name
        self._threshold = settings.threshold_s
        self._fired = False

    def reset(self) -> None:
        self._fired = False

    def check(self, pause: PauseContext) -> Verdict | None:
        if self._fired or pause.silence < self._threshold - 1e-9:
            return None
        self._fired = True
        return Verdict(self.name, pause.now, True, round(pause.silence, 3))


Graph = Literal["bundled", "fused"]
"""Which graph of smart-turn runs: ``bundled`` as shipped, or ``fused``: its GELUs fused, the
same function in fewer passes (:mod:`agent.turn.smart_turn_graph`)."""


Kernels = Literal["int8", "reference"]
"""How onnxruntime runs smart-turn's quantised graph: ``int8``, fused into the int8 kernels this
CPU has (fast, but each CPU family rounds differently), or ``reference``: each quantise and
dequantise run as written, in float, which gives the same scores on any x86 CPU."""


class SmartTurnSettings(BaseModel):
    """smart-turn v3.2 knobs."""

    threshold: float = Field(
        0.95,
        description="P(complete) at or above which the turn is over. Pipecat's 0.5 cut 48 % of the "
        "bundled scenarios' pauses (eot-eval on the recorded pause audio); 0.95 cuts 17 %, and "
        "on AMI 9 % at 1.4 s mean latency, where no silence threshold does as well",
    )
    delay_s: float = Field(0.2, description="silence before the first check (s)")
    recheck_s: float = Field(0.6, description="check again when the pause has grown this much (s)")
    max_checks: int = Field(1, description="checks per pause at most (1: once, as Pipecat does)")
    pre_speech_s: float = Field(0.5, description="audio kept before the turn's first onset (s)")
    score_offset: float = Field(
        0.0,
        ge=-0.2,
        le=0.2,
        description="for tests and benches only: added to every P(complete) (then kept within "
        "0..1) before smart-turn's or the hybrid's rules read it, to show that their decisions "
        "hold when another CPU's int8 kernels round the model a little differently",
    )
    kernels: Kernels = Field(
        "reference",
        description="reference: the same scores on any x86 CPU (on 20 windows of the bundled "
        "replays, this machine against an emulated AVX2-only Haswell differed by at most 0.0006; "
        "with int8 kernels by up to 0.17, mean 0.025), a check about 1.5x as long here; int8: "
        "this CPU's own kernels (the hybrid's defaults were tuned on reference scores)",
    )
    graph: Graph = Field(
        "fused",
        description="the model's graph, for smart-turn and the hybrid alike: bundled (as shipped) "
        "or fused (its GELUs fused: the same function; in the bundled replays the same decisions, "
        "a check 37.5 ms instead of 43.6 ms on average)",
    )


def offset_score(score: Callable[[np.ndarray], float], offset: float) -> Callable[[np.ndarray], float]:
    """``score`` moved by ``offset`` and kept within 0..1 (``score`` itself when it is 0)."""
    if offset == 0.0:
        return score
    return lambda audio: min(1.0, max(0.0, score(audio) + offset))


class SmartTurnDetector:
    """smart-turn v3.2 on the turn's last 8 s of audio, once per pause and again as it grows.

    ``score`` is any ``audio -> P(complete)`` function (the ONNX model, or a stand-in in tests).
    """

    def __init__(
        self,
        score: Callable[[np.ndarray], float],
        settings: SmartTurnSettings,
        name: str = "smart-turn",
    ) -> None:
        self.name = name
        self._score = score
        self._s = settings
        self._checks = 0

    def reset(self) -> None:
        self._checks = 0

    def check(self, pause: PauseContext) -> Verdict | None:
        s = self._s
        if self._checks >= s.max_checks:
            return None
        due = s.delay_s + self._checks * s.recheck_s
        if pause.silence < due - 1e-9:
            return None
        self._checks += 1
        audio = pause.audio(max(0.0, pause.turn_start - s.pre_speech_s), pause.speech_end + due)
        watch = Stopwatch()
        with watch.running():
            p = round(self._score(audio), SCORE_DECIMALS)
        return Verdict(self.name, pause.now, p >= s.threshold, p, watch.seconds)


class HybridSettings(BaseModel):
    """The hybrid detector: smart-turn weighed against what the finals say.

    Defaults from the ``agent eot-eval`` sweeps on evidence built from each pause's recorded
    audio, scored with ``kernels="reference"`` (the same scores on any CPU): among the settings
    that check every 0.4 s and end any turn after 2 s, the fastest (mean end-of-turn latency on
    the bundled scenarios) with no false cutoff on the bundled scenarios, clean, under pink
    noise at -45 dBFS and under a meeting room's tone, and whose point on AMI no silence
    threshold beats on both false cutoffs and latency. On LibriSpeech's read speech silence
    beats it (see the README): the settings silence does not beat there answer the bundled
    scenarios far later (1.7 s on average).
    """

    threshold: float = Field(0.985, description="P(complete) that ends a turn whose words are neutral")
    closed_threshold: float = Field(
        0.2, description="P(complete) enough when the words read as a complete short answer ('yes.')"
    )
    question_threshold: float = Field(0.2, description="P(complete) enough when the words ask a question")
    open_threshold: float = Field(
        0.9,
        description="P(complete) needed when the words read as unfinished ('my number is'), once "
        "open_min_silence_s has passed",
    )
    open_min_silence_s: float = Field(
        1.2, description="an unfinished sentence is never ended before this much silence (s)"
    )
    delay_s: float = Field(
        0.3, description="silence before the first check (s): 0.2 cut a 'Sure, [0.26 s] it is K...'"
    )
    recheck_s: float = Field(0.4, description="check again each time the pause grows this much (s)")
    max_silence_s: float = Field(
        2.0,
        description="end the turn anyway after this much silence (s): 2.5 held one more of AMI's "
        "32 pauses, and answered its hand-overs 0.27 s later on average",
    )
    timeout_margin_s: float = Field(
        0.15,
        description="no model check falls due less than this before max_silence_s (s): the "
        "timeout ends the turn then anyway, so a check at 1.9 s could end it only 0.1 s sooner "
        "(in the bundled replays each such check said 'not yet', then the timeout ended the turn)",
    )
    pre_speech_s: float = Field(0.5, description="audio kept before the turn's first onset (s)")
    score_lead_s: float = Field(
        0.0,
        description="the model reads the audio this long before each check (never before the VAD "
        "stop), so that its answer is ready when the check is due and the decision is only the "
        "text rules (s). 0.1 hides the model's 35-45 ms but, on the bundled scenarios, reading "
        "0.1 s less silence cost more: latency at no cutoff 739 ms against 681 ms",
    )


class HybridDetector:
    """smart-turn on the audio, held back or let through by the words (see ``text_cues``)::

        words read as   a question ("what time is it?")   -> done if P >= question_threshold
                        a short answer ("yes.", "okay.")  -> done if P >= closed_threshold
                        neutral                           -> done if P >= threshold
                        unfinished ("...is 4 1 5", "and") -> not on the score alone
        any             silence >= open_min_silence_s     -> done if P >= open_threshold
        any             silence >= max_silence_s          -> done

    Checked at ``delay_s`` of silence and again every ``recheck_s`` as the pause grows, but never
    on words still being read: a check that falls due before the finals cover the speech waits
    for them (live, the recogniser's last reading takes real time; in a replay it never does). The model
    reads the audio ``score_lead_s`` before each check, so that the decision, when due, costs
    only the text rules::

        speech ====|..... VAD stop ..... score ........ check: decide(score, words then)
                   0 s    0.2 s          delay - lead   delay
    """

    def __init__(
        self, score: Callable[[np.ndarray], float], settings: HybridSettings, name: str = "hybrid"
    ) -> None:
        self.name = name
        self._score = score
        self._s = settings
        self._checks = 0
        self._fired = False
        self._ahead: float | None = None  # the score taken for the next check

    def reset(self) -> None:
        self._checks = 0
        self._fired = False
        self._ahead = None

    def check(self, pause: PauseContext) -> Verdict | None:
        s = self._s
        if self._fired:
            return None
        if pause.silence >= s.max_silence_s - 1e-9:
            self._fired = True
            return Verdict(self.name, pause.now, True, None)
        if pause.finals_pending:
            return None  # the words are still being read: judge them once they are final
        due = s.delay_s + self._checks * s.recheck_s
        if pause.silence < due - s.score_lead_s - 1e-9 or not worth_checking(due, s):
            return None
        cue = text_cue(pause.text, cut_in=pause.cut_in)
        if cue == "open" and due < s.open_min_silence_s - 1e-9:
            if pause.silence >= due - 1e-9:
                self._checks += 1
                self._ahead = None  # a score read for this check is not carried to the next
            return None  # no score can end an unfinished sentence yet: skip the model
        watch = Stopwatch()
        if self._ahead is None:
            with watch.running():
                self._ahead = round(self._score(self._audio(pause, due - s.score_lead_s)), SCORE_DECIMALS)
            if pause.silence < due - 1e-9:
                return Verdict(self.name, pause.now, False, self._ahead, watch.seconds, ahead=True)
        if pause.silence < due - 1e-9:
            return None
        self._checks += 1
        p, self._ahead = self._ahead, None
        spent = watch.seconds
        with watch.running():
            done = decide(p, cue, due, s)
        self._fired = done
        return Verdict(self.name, pause.now, done, p, spent + watch.seconds)

    def _audio(self, pause: PauseContext, silence: float) -> np.ndarray:
        """The turn's audio and ``silence`` seconds of the pause: a check due at 0.7 s reads 0.7 s
        of it, whenever the tick that makes it comes."""
        end = pause.speech_end + max(silence, 0.0)
        return pause.audio(max(0.0, pause.turn_start - self._s.pre_speech_s), min(end, pause.now))


def worth_checking(due: float, s: HybridSettings) -> bool:
    """Whether a check due at silence ``due`` may run the model: not when the timeout comes less
    than ``timeout_margin_s`` after it::

        silence  0.3   0.7   1.1   1.5   [1.9]  2.0 timeout
                 check check check check  skip  done
    """
    return s.max_silence_s - due >= s.timeout_margin_s - 1e-9


def decide(p: float, cue: Cue, silence: float, s: HybridSettings) -> bool:
    """The hybrid rule: is the turn over, given P(complete), the text cue and the silence?"""
    if silence >= s.max_silence_s - 1e-9:
        return True
    long_pause = silence >= s.open_min_silence_s - 1e-9 and p >= s.open_threshold
    if cue == "open":
        return long_pause
    return p >= cue_bar(cue, s) or long_pause  # never harder to end than an unfinished sentence


def cue_bar(cue: Cue, s: HybridSettings) -> float:
    """The P(complete) that ends a turn whose words read as ``cue`` (not open) on the score alone."""
    return {"closed": s.closed_threshold, "question": s.question_threshold}.get(cue, s.threshold)
