"""Streaming recognition: Whisper re-run on a growing buffer, finals by LocalAgreement-2.

The buffer holds the audio since the last cut. While the user speaks, every ``chunk_s`` of new
audio (``over_bot_chunk_s`` for speech that began while the bot was talking) the whole buffer is
transcribed (with the committed text before it as the prompt), and
LocalAgreement commits what two consecutive hypotheses agree on. When the VAD says the speech
stopped, the tail is finalised. The buffer keeps the speech before a short pause (the words
after it are recognised in context) and starts afresh after a long one::

    audio    ....[pre-roll|=========== speech ============|...
    decode           ^chunk   ^chunk   ^chunk   ^chunk     ^VAD stop: finalise the tail
    buffer   once longer than trim_s, cut at the last committed sentence end (else word end);
             never longer than max_buffer_s: words in audio cut then are committed as heard,
             so decoding time stays bounded and nothing is lost

Pure apart from the ``decode`` function it is given, and clock-free: the caller passes media
times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from agent.asr.local_agreement import LocalAgreement, drop_repeats
from agent.asr.window_decoder import WindowResult
from agent.events import Word
from agent.media import SAMPLE_RATE

_REACH_SLACK_S = 0.3
_MIN_TAIL_S = 0.3  # less audio than this after the last committed word is not read alone

Decode = Callable[[np.ndarray, str], WindowResult]
"""audio (16 kHz, from the buffer start), prompt -> words in seconds from the buffer start."""


class StreamingSettings(BaseModel):
    """Streaming recogniser knobs (seconds)."""

    chunk_s: float = Field(
        1.0,
        gt=0,
        description="while only the user speaks, transcribe again after this much new audio (s): "
        "the partials for display and the words committed mid-turn; the reading at the VAD stop "
        "comes at once whatever this is, so the words at a pause are final no later. 1.0 against "
        "0.4: the bundled replays' recogniser 16.2 s of compute against 23.4 s, the same turn "
        "decisions; words committed mid-turn later (jfk + AMI final latency p50 1107 ms against "
        "616 ms)",
    )
    over_bot_chunk_s: float = Field(
        0.4,
        gt=0,
        description="the same for speech that began while the bot was talking: a barge-in is "
        "confirmed by the first committed word, so these are read more often (s)",
    )
    pre_roll_s: float = Field(
        0.8,
        description="audio kept before the VAD says speech started, after a long pause (s); 0.8 "
        "read jfk and the bundled scenarios better than 0.3 (LibriSpeech: a tie)",
    )
    context_s: float = Field(
        3.0, description="after a pause shorter than this the buffer keeps the speech before it (s)"
    )
    trim_s: float = Field(
        5.0, description="buffer length after which it is cut at a committed sentence end, else word (s)"
    )
    max_buffer_s: float = Field(
        10.0, description="the buffer never grows past this: decode time stays below chunk_s (s)"
    )
    min_decode_s: float = Field(
        1.0, description="no reading of a buffer shorter than this: tiny models invent words on it (s)"
    )
    prompt_chars: int = Field(200, description="committed text given to Whisper as the prompt")
    prompt_across_pauses: bool = Field(
        False,
        description="the prompt may hold text from before a long pause (one longer than context_s); "
        "off, a reading depends only on the audio since that pause, so the cloud emulators (which "
        "read this way) give the local path's words, also for audio replayed after a reconnect; "
        "on or off made no difference to the bundled scenarios' words",
    )
    settle_s: float = Field(
        0.0,
        description="after a VAD stop keep reading this long before the tail is forced final: the "
        "words just before the stop get a second reading with audio after them (s)",
    )
    flush_decode_s: float = Field(
        0.05,
        description="at a VAD stop with nothing pending, transcribe once more if the speech went on "
        "this long after the last reading (s); a pending tail always gets a final reading",
    )
    flush_beam_size: int = Field(
        1,
        ge=1,
        description="beam of the final reading at a VAD stop; 5 fixed words on jfk but made tiny.en "
        "repeat whole sentences at some flushes, so greedy stays the default",
    )
    no_speech_threshold: float = Field(0.6, description="ignore a hypothesis Whisper thinks is not speech")
    logprob_threshold: float = Field(-1.0, description="... when its mean log-probability is also below this")


@dataclass(frozen=True)
class Update:
    """What one decode produced: newly committed words and the current partial (media times)."""

    committed: list[Word]
    partial: list[Word]


class StreamingRecognizer:
    """Audio buffer, prompt and LocalAgreement around a Whisper decode function."""

    def __init__(
        self, decode: Decode, settings: StreamingSettings, final_decode: Decode | None = None
    ) -> None:
        """``decode`` reads the buffer while the user speaks; ``final_decode`` (default: the
        same) makes the last reading at a VAD stop, typically with ``flush_beam_size``."""
        self._decode = decode
        self._final_decode = final_decode or decode
        self._s = settings
        self._agreement = LocalAgreement()
        self._chunks: list[np.ndarray] = []  # the buffer, joined lazily (appends stay O(1))
        self._samples = 0
        self._start = 0.0  # media time of the buffer's first sample
        self._context_start = 0.0  # media time of the last cut for a long pause
        self._speaking = False
        self._over_bot = False  # the speech under way began while the bot was talking
        self._stopped_at = float("-inf")  # media time the last speech ended (none: a long pause)
        self._decoded_until = 0.0  # media time the latest hypothesis covers
        self._pending_stop: tuple[float, float] | None = None  # (VAD stop time, speech end)
        self._onset = 0.0  # media time the latest speech began, less the pre-roll
        self.decodes = 0

    @property
    def settings(self) -> StreamingSettings:
        return self._s

    @property
    def buffer_seconds(self) -> float:
        return self._samples / SAMPLE_RATE

    @property
    def _audio(self) -> np.ndarray:
        if len(self._chunks) != 1:
            joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
            self._chunks = [joined]
        return self._chunks[0]

    @property
    def committed(self) -> tuple[Word, ...]:
        return tuple(self._agreement.committed)

    @property
    def end_time(self) -> float:
        return self._start + self.buffer_seconds

    def append(self, audio: np.ndarray) -> None:
        """More microphone audio, continuing where the last ended."""
        self._chunks.append(np.asarray(audio, dtype=np.float32))
        self._samples += len(audio)
        if not self._speaking and self.end_time - self._stopped_at > self._s.context_s:
            # A long pause: what came before is no help for what comes next.
            self._cut(self.end_time - self._s.pre_roll_s)
            self._context_start = self._start
        elif self.buffer_seconds > self._s.max_buffer_s:
            self._cut(self.end_time - self._s.max_buffer_s)

    @property
    def interval(self) -> float:
        """Seconds of new audio between two readings of the speech under way."""
        return self._s.over_bot_chunk_s if self._over_bot else self._s.chunk_s

    def speech_started(self, over_bot: bool = False) -> None:
        """The VAD heard speech: from now on the buffer grows (it holds the pre-roll already).
        ``over_bot``: the bot is talking (a barge-in may wait on these words: read them at
        ``over_bot_chunk_s``). A stop still settling is forgotten: the speaker went on."""
        if not self._speaking:
            self._onset = self.end_time - self._s.pre_roll_s
            self._over_bot = over_bot
        self._over_bot = self._over_bot or over_bot
        self._speaking = True
        self._pending_stop = None

    def bot_started(self) -> None:
        """The bot began talking: speech under way is read at ``over_bot_chunk_s`` from now."""
        self._over_bot = self._over_bot or self._speaking

    def speech_stopped(self, now: float, speech_end: float) -> None:
        """The VAD says the speech stopped (at ``speech_end``); the tail is forced final once
        ``settle_s`` has passed without new speech (see :meth:`flush_due`)."""
        if self._speaking:
            self._pending_stop = (now, speech_end)

    def flush_due(self, now: float) -> float | None:
        """The speech end to pass to :meth:`finish` once the settle time after a VAD stop is
        over, else None::

            speech ====|.. VAD stop ...... settle_s ......| finish(): tail final
                            reading at interval ^  (commits by agreement)
        """
        if self._pending_stop is None or now - self._pending_stop[0] < self._s.settle_s - 1e-9:
            return None
        return self._pending_stop[1]

    def due(self, now: float) -> bool:
        """True when enough new audio has come in for another decode (and the buffer is long
        enough for Whisper to read reliably)."""
        return (
            self._speaking
            and now - self._decoded_until >= self.interval - 1e-9
            and self.buffer_seconds >= self._s.min_decode_s - 1e-9
        )

    def update(self) -> Update:
        """Transcribe the buffer and commit what the last two hypotheses agree on."""
        reading = self._hypothesis()
        committed = self._agreement.insert(reading) if self._reaches(reading) else []
        committed += self._trim()
        return Update(committed, self._agreement.partial)

    def finish(self, speech_end: float) -> Update:
        """The speech stopped at ``speech_end``: finalise everything heard up to it."""
        committed: list[Word] = []
        went_on = speech_end - self._decoded_until > self._s.flush_decode_s
        if self._speaking and (went_on or self._agreement.partial):
            reading = self._hypothesis(final=True)
            if not self._reaches(reading) or not self._agreement.after_committed(reading):
                tail = self._tail_reading()
                if tail and self._hears_more(tail):
                    reading = tail
            if self._reaches(reading):
                committed += self._agreement.insert(reading)
            else:  # times collapsed or words dropped: keep the tail, add what follows it by text
                self._agreement.continue_tail(reading)
        committed += self._agreement.finalize()
        self._speaking = False
        self._pending_stop = None
        self._stopped_at = speech_end
        return Update(committed, [])

    def _reaches(self, reading: list[Word]) -> bool:
        """False for a reading that drops words the previous one had heard.

        Tiny models sometimes return a reading that skips words, squeezes the buffer into a few
        words, or merges new words into committed ones ("555 -50123"). A reading whose new words
        do not reach as far as the previous tail is not used: the previous tail stands (and is
        what a flush makes final), so no heard word is lost.
        """
        previous = self._agreement.partial
        fresh = self._agreement.after_committed(reading)
        reach = max((w.end for w in fresh), default=0.0)
        return not previous or reach >= previous[-1].end - _REACH_SLACK_S

    def _hears_more(self, reading: list[Word]) -> bool:
        """The reading's words go on past the partial's end (a new reading of the same words,
        "country" read again as "upgrade", adds nothing and is not used)."""
        partial = self._agreement.partial
        end = partial[-1].end if partial else self._agreement.last_committed_end
        return reading[-1].end > end + _REACH_SLACK_S

    def _tail_reading(self) -> list[Word] | None:
        """The final reading of only the audio after the last committed word (from the latest
        speech onset, less the pre-roll, if that is later), with the committed words as the
        prompt; None when there is too little of it to read.

        For a final reading that dropped words the partial had, or that has no new word at all
        although the speech went on (no reading came between: the speech was shorter than the
        reading interval). For a final reading that merged new words into a committed one: with "L" committed
        (6.0-7.6 s) and "S K I" said from 8.8 s, the buffer from 6.0 s read "Lski." (6.0-9.7 s),
        a word that is not new by time, so "K I" would be lost::

            buffer     |L.........|....|S..K.I|      reading: Lski.        (not new: dropped)
            tail                       |S..K.I|      reading: SKI.         (new)
                       6.0        7.6  8.0    9.7
                                       ^onset less pre-roll
        """
        start = max(self._agreement.last_committed_end, self._onset)
        if not self._start < start < self.end_time - _MIN_TAIL_S:
            return None
        return self._hypothesis(final=True, start=start)

    def _hypothesis(self, final: bool = False, start: float | None = None) -> list[Word]:
        """A reading of the buffer, or of its audio after media time ``start``."""
        self.decodes += 1
        self._decoded_until = self.end_time
        offset = self._start if start is None else start
        audio = self._audio[round((offset - self._start) * SAMPLE_RATE) :]
        result = (self._final_decode if final else self._decode)(audio, self._prompt(offset))
        s = self._s
        if result.no_speech_prob > s.no_speech_threshold and result.avg_logprob < s.logprob_threshold:
            return []
        words = [Word(w.text, offset + w.start, offset + w.end, w.p) for w in result.words]
        return drop_repeats(words)

    def _prompt(self, before: float) -> str:
        words: list[str] = []
        for w in reversed(self._agreement.recent(80)):  # whole words before the audio read
            if w.end > before + 1e-6:
                continue
            if not self._s.prompt_across_pauses and w.start < self._context_start:
                break
            if sum(len(x) + 1 for x in words) + len(w.text) > self._s.prompt_chars:
                break
            words.insert(0, w.text)
        return " ".join(words)

    def _trim(self) -> list[Word]:
        """Keep the buffer short; returns words force-committed because their audio is cut."""
        if self.buffer_seconds <= self._s.trim_s:
            return []
        inside = [w for w in self._agreement.recent(100) if w.end > self._start]
        sentence_ends = [w.end for w in inside if w.text.rstrip()[-1:] in ".?!"]
        if sentence_ends:
            self._cut(sentence_ends[-1])
        elif inside:
            self._cut(inside[-1].end)
        forced: list[Word] = []
        if self.buffer_seconds > self._s.max_buffer_s:
            # Nothing committed late enough to cut at (the hypotheses keep disagreeing): commit
            # what the latest hypothesis says about the audio that must go, rather than lose it.
            cut = self.end_time - self._s.max_buffer_s
            forced = self._agreement.finalize(until=cut)
            self._cut(cut)
        return forced

    def _cut(self, t: float) -> None:
        """Drop the audio before media time ``t``."""
        n = min(self._samples, round((t - self._start) * SAMPLE_RATE))
        if n > 0:
            self._chunks = [self._audio[n:]]
            self._samples -= n
            self._start += n / SAMPLE_RATE
