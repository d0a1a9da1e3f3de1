"""Telephone audio: G.711 μ-law at 8 kHz to and from the pipeline's 16 kHz, with 2 ms of delay.

Pipecat's serializers resample with soxr's stream resampler, which hands its output over in blocks
of about 100 ms: on a phone call that is 100 ms of lumps and up to 100 ms of delay on the way in
and again on the way out (measured: nothing for 5 frames of 20 ms, then 5 at once). A factor of
two needs no general resampler: a windowed-sinc low-pass at 3.7 kHz (the telephone band ends at
3.4 kHz) does both directions, 20 ms in, 20 ms out, in the same call::

    in   8 kHz μ-law ─► linear ─► zero-stuff x2 ─► low-pass ─► 16 kHz float
    out  16 kHz float ─► low-pass ─► keep every 2nd ─► μ-law ─► 8 kHz

μ-law is ITU-T G.711 (bias 0x84, 14-bit range), in numpy.
"""

from __future__ import annotations

import numpy as np

_TAPS = 63  # odd: a delay of 31 samples at 16 kHz (1.9 ms)


def _lowpass() -> np.ndarray:
    n = np.arange(_TAPS) - (_TAPS - 1) / 2
    cutoff = 3700 / 16000  # cycles per sample at 16 kHz
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(_TAPS, 8.0)
    return (h / h.sum()).astype(np.float32)


_FILTER = _lowpass()


class _Fir:
    """A streaming FIR filter: each call filters a block, continuing from the last one."""

    def __init__(self) -> None:
        self._tail = np.zeros(_TAPS - 1, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self._tail, x])
        self._tail = joined[-(_TAPS - 1) :]
        return np.convolve(joined, _FILTER, mode="valid").astype(np.float32)


class Upsampler:
    """8 kHz float -> 16 kHz float, stream by stream."""

    def __init__(self) -> None:
        self._fir = _Fir()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        stuffed = np.zeros(2 * len(x), dtype=np.float32)
        stuffed[::2] = 2.0 * np.asarray(x, dtype=np.float32)
        return self._fir(stuffed)


class Downsampler:
    """16 kHz float -> 8 kHz float, stream by stream (blocks of an even length)."""

    def __init__(self) -> None:
        self._fir = _Fir()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) % 2:
            raise ValueError(f"blocks of an even length only, got {len(x)} samples")
        return self._fir(np.asarray(x, dtype=np.float32))[::2]


_BIAS = 0x84


def ulaw_encode(audio: np.ndarray) -> bytes:
    """Float audio in [-1, 1] to G.711 μ-law bytes (the reference encoder on 14-bit samples)."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767), -32768, 32767).astype(np.int32)
    v = pcm >> 2
    mask = np.where(v < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(v), 8159) + (_BIAS >> 2)
    segment = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 5, 0, 8)
    value = (np.minimum(segment, 7) << 4) | ((magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F)
    value = np.where(segment >= 8, 0x7F, value)
    return ((value ^ mask) & 0xFF).astype(np.uint8).tobytes()


def _decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + _BIAS) << exponent
    value = np.where(u & 0x80, _BIAS - magnitude, magnitude - _BIAS)
    return (value / 32768.0).astype(np.float32)


_DECODE = _decode_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes to float audio in [-1, 1]."""
    return _DECODE[np.frombuffer(data, dtype=np.uint8)]


class TelephoneLine:
    """16 kHz audio as it comes out of a phone line: down to 8 kHz, μ-law, and back up."""

    def __init__(self) -> None:
        self._down = Downsampler()
        self._up = Upsampler()

    def __call__(self, audio: np.ndarray) -> np.ndarray:
        return self._up(ulaw_decode(ulaw_encode(self._down(audio))))
