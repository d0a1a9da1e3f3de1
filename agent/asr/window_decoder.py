"""Whisper on a short window: the encoder sees the audio plus a little silence, not 30 s.

Whisper pads every input to 30 s, so each call costs the same (~0.35 s for tiny.en on this
machine) however short the audio. Streaming calls it every fraction of a second on a buffer of a
few seconds, so that padding is most of the cost. CTranslate2's encoder accepts shorter inputs;
Whisper then works as long as some silence follows the speech (with none it tends to loop on
the last words; whisper.cpp's ``audio_ctx`` is the same idea)::

    window   [====== buffer audio ======][pad >= pad_s][to a multiple of 1 s]
    encoder  sees only this, not 30 s

The decoding is faster-whisper's own parts (feature extractor, ``encode``, ``get_prompt``,
``find_alignment``) driven for one segment without timestamps. A result that looks like a
repetition loop is rejected; the caller then falls back to the full 30 s window.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

from agent.events import Word

SR = 16000
HOP = 160  # feature frames are 10 ms
FULL_FRAMES = 3000  # Whisper's 30 s window
_PREPEND = "\"'“¿([{-"  # faster-whisper's defaults: punctuation joined to the next word
_APPEND = "\"'.。,，!！?？:：”)]}、"  # ... and to the previous word


@dataclass(frozen=True)
class WindowResult:
    """Words (seconds from the window start), and Whisper's own confidence figures."""

    words: list[Word]
    no_speech_prob: float
    avg_logprob: float
    looped: bool


class WindowDecoder:
    """One-segment greedy decoding of up to ~25 s of audio on a shortened encoder window."""

    def __init__(
        self, model: WhisperModel, language: str = "en", pad_s: float = 2.0, min_window_s: float = 10.0
    ) -> None:
        self._model = model
        self._pad_s = pad_s
        self._min_window_s = min_window_s
        self._tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
        )
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])

    def frames_for(self, n_samples: int) -> int:
        """Encoder frames used for ``n_samples`` of audio: audio + pad, rounded up to 1 s."""
        seconds = max(self._min_window_s, n_samples / SR + self._pad_s)
        return min(FULL_FRAMES, math.ceil(seconds) * 100)

    def decode(
        self, audio: np.ndarray, prompt: str = "", full_window: bool = False, beam_size: int = 1
    ) -> WindowResult:
        """Transcribe ``audio`` (16 kHz float) given the text that came before it."""
        m = self._model
        features = m.feature_extractor(np.asarray(audio, dtype=np.float32))
        content = min(features.shape[-1], FULL_FRAMES)
        frames = FULL_FRAMES if full_window else self.frames_for(len(audio))
        window = np.zeros((features.shape[0], frames), dtype=np.float32)
        window[:, : min(content, frames)] = features[:, : min(content, frames)]
        encoded = m.encode(window)
        previous = self._tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
        tokens_prompt = m.get_prompt(self._tokenizer, previous, without_timestamps=True)
        max_new = int(12 * len(audio) / SR) + 16  # far above speech (~4 tokens/s): caps a loop
        result = m.model.generate(
            encoded,
            [tokens_prompt],
            beam_size=beam_size,
            max_length=min(m.max_length, len(tokens_prompt) + max_new),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1) if tokens else 0.0
        if not tokens:
            return WindowResult([], result.no_speech_prob, avg_logprob, False)
        duration = len(audio) / SR
        [alignment] = m.find_alignment(self._tokenizer, [tokens], encoded, content)
        merge_punctuations(alignment, _PREPEND, _APPEND)
        words = [
            Word(
                a["word"].strip(),
                min(float(a["start"]), duration),
                min(float(a["end"]), duration),
                float(a.get("probability", 1.0)),
            )
            for a in alignment
            if a["word"].strip()
        ]
        looped = _looks_looped(words, duration)
        return WindowResult(words, result.no_speech_prob, avg_logprob, looped)


def _looks_looped(words: list[Word], duration: float) -> bool:
    """Whisper's failure mode on short windows: the same words again and again."""
    if len(words) > 6 * max(duration, 1.0):
        return True
    limit = 3 if duration < 2.5 else 4  # "yes. yes. yes." on a second of audio is a loop
    run = 1
    for a, b in itertools.pairwise(words):
        run = run + 1 if a.text.lower().strip(".,!?") == b.text.lower().strip(".,!?") else 1
        if run >= limit:
            return True
    return False
