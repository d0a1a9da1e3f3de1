"""Audio loading, resampling and the media-time audio history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent.media import (
    SAMPLE_RATE,
    AudioError,
    AudioHistory,
    back_to_pcm16,
    from_pcm16,
    load_audio,
    speech_bounds,
)

from .conftest import ROOT


def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path: Path) -> None:
    t = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([tone, tone], axis=1), 44100)
    audio = load_audio(tmp_path / "stereo.wav")
    assert audio.dtype == np.float32
    assert audio.ndim == 1
    assert abs(len(audio) - SAMPLE_RATE) <= 1
    # Still a 440 Hz tone after resampling.
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(audio) - 440) < 3


def test_bundled_recording_loads() -> None:
    audio = load_audio(ROOT / "scenarios/audio/pizza_order_44k_stereo.flac")
    assert 3.8 < len(audio) / SAMPLE_RATE < 4.1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "cannot decode"), (b"not audio at all" * 10, "cannot decode")],
)
def test_unreadable_audio_is_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.wav"
    p.write_bytes(content)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(p)
    assert str(info.value).startswith(str(p))
    assert "\n" not in str(info.value)


def test_missing_and_empty_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "none.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(tmp_path / "empty.wav")


def test_speech_bounds_skip_leading_and_trailing_silence() -> None:
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    audio[4000:9000] = 0.3 * np.sin(np.arange(5000) * 0.3)
    start, end = speech_bounds(audio)
    assert 3800 <= start <= 4000
    assert 9000 <= end <= 9200
    assert speech_bounds(np.zeros(1000, dtype=np.float32)) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.integers(min_value=0, max_value=900), min_size=1, max_size=40),
    keep=st.integers(min_value=100, max_value=2000),
    a=st.floats(min_value=0, max_value=1.5),
    length=st.floats(min_value=0, max_value=0.5),
)
@example(chunks=[201, 900, 900], keep=1001, a=0.0, length=0.0)  # 1001 / 16000 * 16000 < 1001
def test_audio_history_matches_the_full_stream(chunks: list[int], keep: int, a: float, length: float) -> None:
    history = AudioHistory(keep / SAMPLE_RATE)
    stream = np.arange(sum(chunks), dtype=np.float32)
    pos = 0
    for n in chunks:
        history.append(stream[pos : pos + n])
        pos += n
    assert history.end_time == pytest.approx(len(stream) / SAMPLE_RATE)
    first = round(history.start_time * SAMPLE_RATE)
    assert max(0, len(stream) - 2 * keep) <= first <= max(0, len(stream) - keep)
    lo, hi = round(a * SAMPLE_RATE), round((a + length) * SAMPLE_RATE)
    want = np.zeros(max(0, hi - lo), dtype=np.float32)
    for i in range(lo, hi):
        if first <= i < len(stream):
            want[i - lo] = stream[i]
    assert np.array_equal(history.padded(a, a + length), want)


def test_the_media_grid_is_whole_chunks_and_vad_windows() -> None:
    from agent.media import GRID_SAMPLES, on_grid

    assert GRID_SAMPLES % 320 == 0 and GRID_SAMPLES % 512 == 0
    assert on_grid(0.5) == 0.48 and on_grid(0.5, up=True) == 0.64
    assert on_grid(0.64) == on_grid(0.64, up=True) == 0.64


def test_audio_from_pcm_goes_back_to_the_same_pcm() -> None:
    """A replay sends buffered audio again: it must be the very bytes sent the first time."""
    pcm = np.arange(-32768, 32768, dtype="<i2").tobytes()
    assert back_to_pcm16(from_pcm16(pcm)) == pcm
