"""Our local recogniser and end-of-turn logic without Pipecat: what the protocol emulators serve.

:class:`LocalTurnEngine` takes 16 kHz audio in chunks and returns provider-neutral events, each
stamped with the media time of the audio fed so far (the session's own clock)::

    feed(chunk) -> [SpeechStarted(t), Words(t, final=[...], partial=[...]), EndOfTurn(t, ...)]

It wires the same pure parts as the local pipeline (Silero windows into the VAD state machine,
the streaming recogniser with LocalAgreement, the turn controller with the hybrid detector), so an
emulated provider hears and decides what the local path would. It is synchronous; a server runs
it in a worker thread.

Replayable: what it makes of a run of speech depends on that run's audio alone, so a client
that reconnects and sends it again (from a point on the media grid) gets the same words. A run
is speech whose pauses are all shorter than ``streaming.context_s`` (3 s): the recogniser keeps
the speech before a shorter pause as context, and starts afresh after a longer one, with no
prompt carried over (``prompt_across_pauses`` off, as on the local path). A session starts as
if after a long pause. Audio is taken in fixed 20 ms steps, however the client chunks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.asr.streaming import StreamingRecognizer, Update
from agent.events import Final, Word
from agent.media import SAMPLE_RATE, AudioHistory
from agent.models import Models
from agent.settings import Settings
from agent.turn.controller import TurnController, TurnSettings
from agent.turn.detectors import HybridDetector
from agent.vad import SileroVoice, VadSegmenter

STEP_SAMPLES = SAMPLE_RATE // 50
"""20 ms: the engine's step, as the local pipeline's chunk."""


@dataclass(frozen=True)
class SpeechStarted:
    t: float
    onset: float


@dataclass(frozen=True)
class Words:
    """The words of the current turn so far: ``final`` never change, ``partial`` may."""

    t: float
    final: tuple[Word, ...]
    partial: tuple[Word, ...]


@dataclass(frozen=True)
class EndOfTurn:
    t: float
    words: tuple[Word, ...]
    confidence: float


@dataclass(frozen=True)
class EagerEnd:
    """A likely end (only when the engine was made with an ``eager_score``)."""

    t: float
    words: tuple[Word, ...]
    confidence: float


@dataclass(frozen=True)
class Resumed:
    """The user went on after an eager end."""

    t: float


Event = SpeechStarted | Words | EndOfTurn | EagerEnd | Resumed


@dataclass
class _Turn:
    final: list[Word] = field(default_factory=list)
    partial: list[Word] = field(default_factory=list)


class LocalTurnEngine:
    """One session's VAD, streaming ASR and turn decisions, fed audio chunk by chunk."""

    def __init__(self, models: Models, settings: Settings, eager_score: float | None = None) -> None:
        self._voice = SileroVoice()
        window_s = self._voice.window_samples / SAMPLE_RATE
        self._segmenter = VadSegmenter(settings.vad, window_s)
        self._vad_confidence = settings.vad.confidence
        since_pause = settings.streaming.model_copy(update={"prompt_across_pauses": False})
        self._asr = StreamingRecognizer(
            models.whisper.decode_window,
            since_pause,
            models.whisper.final_decoder(settings.streaming.flush_beam_size),
        )
        self._history = AudioHistory(12.0)
        detector = HybridDetector(models.smart_turn.probability, settings.hybrid)
        turn = TurnSettings(final_wait_max_s=settings.turn.final_wait_max_s, eager_score=eager_score)
        self._turns = TurnController([detector], turn, self._history.slice)
        self._pending = np.zeros(0, np.float32)  # audio not yet a whole step
        self._window = np.zeros(0, np.float32)  # audio not yet a whole VAD window
        self._received = 0
        self._turn = _Turn()
        self._score = 0.0

    @property
    def t(self) -> float:
        """Media time of the audio fed so far (s)."""
        return self._received / SAMPLE_RATE

    def feed(self, audio: np.ndarray) -> list[Event]:
        """Add 16 kHz float audio; returns what happened by the end of it (up to the last whole
        20 ms step: the rest waits for the next call)."""
        self._pending = np.concatenate([self._pending, np.asarray(audio, dtype=np.float32)])
        events: list[Event] = []
        while len(self._pending) >= STEP_SAMPLES:
            step, self._pending = self._pending[:STEP_SAMPLES], self._pending[STEP_SAMPLES:]
            events += self._step(step)
        return events

    def _step(self, audio: np.ndarray) -> list[Event]:
        self._received += len(audio)
        self._history.append(audio)
        self._asr.append(audio)
        events: list[Event] = []
        self._window = np.concatenate([self._window, audio])
        n = self._voice.window_samples
        window_end = self.t - len(self._window) / SAMPLE_RATE
        while len(self._window) >= n:
            window, self._window = self._window[:n], self._window[n:]
            window_end += n / SAMPLE_RATE
            confidence = self._voice.confidence(window)
            self._turns.voice(window_end, confidence >= self._vad_confidence)
            vad = self._segmenter.feed(window_end, confidence)
            if vad is not None and vad.kind == "start":
                self._asr.speech_started()
                events.append(SpeechStarted(vad.t, vad.edge))
                events += [
                    Resumed(e.t)
                    for e in self._turns.speech_started(vad.t, vad.edge)
                    if e.kind == "turn_resumed"
                ]
            elif vad is not None:
                self._asr.speech_stopped(vad.t, vad.edge)
                self._turns.speech_stopped(vad.t, vad.edge)
        events += self._recognise()
        events += self._decide()
        return events

    def force_end(self, closing: bool = False) -> list[Event]:
        """End the current turn now (the client's Finalize or ForceEndpoint) with its final words.

        In a pause the tail is flushed first. Mid-utterance (a command that reaches the session
        late, say while it reads a backlog replayed after a reconnect) the recogniser is left
        alone: the utterance is still read whole, and its words go to the next turn. ``closing``
        (CloseStream, Terminate): there is no next turn, so everything heard is made final.
        """
        if closing or not self._segmenter.speaking:
            self._take(self._asr.finish(self.t))
        words = tuple(self._turn.final)
        self._turn = _Turn()
        return [EndOfTurn(self.t, words, 1.0)] if words else []

    def _recognise(self) -> list[Event]:
        edge = self._asr.flush_due(self.t)
        if edge is not None:
            update = self._asr.finish(edge)
            self._take(update)
            self._turns.flushed(self.t)
        elif self._asr.due(self.t):
            update = self._asr.update()
            self._take(update)
        else:
            return []
        if not (update.committed or update.partial):
            return []
        return [Words(self.t, tuple(self._turn.final), tuple(self._turn.partial))]

    def _take(self, update: Update) -> None:
        if update.committed:
            self._turns.final(Final(tuple(update.committed), audio_end=update.committed[-1].end))
        self._turn.final += update.committed
        self._turn.partial = list(update.partial)

    def _decide(self) -> list[Event]:
        out: list[Event] = []
        for e in self._turns.tick(self.t):
            if e.verdict is not None and e.verdict.score is not None:
                self._score = e.verdict.score
            if e.kind == "eager_end":
                out.append(EagerEnd(e.t, tuple(self._turn.final), self._score))
            if e.kind in ("turn_end", "turn_discarded") and self._turn.final:
                words, self._turn = tuple(self._turn.final), _Turn()
                out.append(EndOfTurn(e.t, words, self._score if e.kind == "turn_end" else 0.0))
        return out
