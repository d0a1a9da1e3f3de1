"""smart-turn's log-mel features: ours (STFT only where the window holds audio) equal Pipecat's."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.turn.smart_turn._whisper_features import compute_whisper_log_mel_features

from agent.turn.features import SAMPLES, log_mel_features


def _speechlike(n: int, seed: int) -> np.ndarray:
    """Noise bursts under a slow envelope, with silent gaps: not constant anywhere it is loud."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 1.3 * t), 0, None) ** 2
    return (0.2 * envelope * rng.standard_normal(n)).astype(np.float32)


def _pipecat(audio: np.ndarray) -> np.ndarray:
    """Pipecat's path: the last 8 s, zero-padded in front, through its own extractor."""
    x = audio[-SAMPLES:]
    return compute_whisper_log_mel_features(np.pad(x, (SAMPLES - len(x), 0)), do_normalize=True)


# Around every boundary of the shortcut: the reflected head (200 samples), the first frame that
# can be skipped (400), frame edges (multiples of 160 either side), one frame of audio, the full
# window, longer than the window.
LENGTHS = [1, 199, 200, 201, 399, 400, 401, 560, 561, 1000, 16_000, 40_007, 127_600, 127_601]
LENGTHS += [127_799, 127_800, 127_801, SAMPLES - 1, SAMPLES, SAMPLES + 12_345]


@pytest.mark.parametrize("n", LENGTHS)
def test_features_equal_pipecats_for_any_length_of_audio(n: int) -> None:
    audio = _speechlike(n, seed=n)
    ours = log_mel_features(audio)
    assert ours.shape == (80, 800) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, _pipecat(audio))


def test_features_of_no_audio_are_pipecats_too() -> None:
    empty = np.zeros(0, dtype=np.float32)
    np.testing.assert_array_equal(log_mel_features(empty), _pipecat(empty))
