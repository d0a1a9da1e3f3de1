"""Whisper log-mel features for smart-turn, computed only where the window holds audio.

smart-turn reads 8 s of audio, zero-padded at the front when the turn is shorter, as Whisper
log-mel features (Pipecat's ``compute_whisper_log_mel_features``: the window normalised to zero
mean and unit variance, a centred 400-point STFT every 160 samples, 80 Slaney mel bands, log10,
floored 8 below the maximum, scaled). Most turns are shorter than 8 s, so most of the window is
padding, and after normalisation padding is one constant value: every frame that lies wholly in
it has the same spectrum. This computes that spectrum once and the STFT only for frames that touch
the audio, with the same float64 arithmetic, so the features equal Pipecat's bit for bit (tested) at a
fraction of the cost::

    window   |<------- padding (constant) ------->|<---- audio ---->|
    frames   [c][c][c] ... [c][c][c]             [f][f][f] ... [f][f]
              one spectrum, repeated              one STFT frame each
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Pipecat's constants: the Hann window and the Slaney mel filterbank, shape (201, 80). They live
# in a module Pipecat marks private; imported here only, so that a move upstream breaks one line.
from pipecat.audio.turn.smart_turn._whisper_features import _HANN_WINDOW, _MEL_FILTERS

SAMPLES = 128_000
"""8 s at 16 kHz: the model's window."""
N_FFT = 400
HALF = N_FFT // 2
HOP = 160
FRAMES = SAMPLES // HOP
"""Frames the model reads (the STFT's trailing 801st frame is dropped, as in Whisper)."""
_MEL_FLOOR = 1e-10
_NORM_EPS = 1e-7
_MEL_BY_BIN = np.ascontiguousarray(_MEL_FILTERS)


def log_mel_features(audio: np.ndarray) -> np.ndarray:
    """Features (80, 800) float32 of the last 8 s of ``audio`` (16 kHz), zero-padded in front."""
    x = np.asarray(audio, dtype=np.float32)[-SAMPLES:]
    lead = SAMPLES - len(x)
    window = np.zeros(SAMPLES, dtype=np.float32)
    window[lead:] = x
    # Statistics over the whole padded window, in float32, exactly as Pipecat takes them.
    mean = window.mean()
    std = np.sqrt(window.var() + _NORM_EPS)

    # Frame k spans window[k*HOP - HALF : k*HOP + HALF], reflected at both ends. It is all
    # padding when it ends inside the padding and starts in the window proper (no reflection).
    constant = min(FRAMES, (lead - HALF) // HOP + 1) if lead >= N_FFT else 0
    first = constant * HOP - HALF
    if constant < 2 or first < 0:
        constant, first = 0, 0
        padded = np.pad(((window - mean) / std).astype(np.float64), (HALF, HALF), mode="reflect")
    else:
        tail = ((window[first:] - mean) / std).astype(np.float64)
        padded = np.pad(tail, (0, HALF), mode="reflect")

    log_spec = np.empty((FRAMES, _MEL_BY_BIN.shape[1]))
    if constant < FRAMES:
        log_spec[constant:] = _log_mel(sliding_window_view(padded, N_FFT)[::HOP][: FRAMES - constant])
    if constant:
        pad_value = (np.zeros(1, dtype=np.float32) - mean) / std
        log_spec[:constant] = _log_mel(np.full((1, N_FFT), pad_value.astype(np.float64)[0]))
    log_spec = log_spec.T
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def _log_mel(frames: np.ndarray) -> np.ndarray:
    """log10 mel power of Hann-windowed frames, one row per frame."""
    spectrum = np.fft.rfft(frames * _HANN_WINDOW, axis=-1)
    power = np.abs(spectrum) ** 2
    return np.asarray(np.log10(np.maximum(_MEL_FLOOR, power @ _MEL_BY_BIN)))
