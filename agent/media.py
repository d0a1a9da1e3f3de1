"""Audio loading, validation, resampling and PCM helpers.

Everything inside the pipeline is 16 kHz mono. Media time is the number of samples fed in divided
by the sample rate; :func:`seconds` and :func:`samples` convert between the two.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
"""The pipeline's sample rate (Hz): Silero VAD, Whisper and smart-turn all take 16 kHz."""


GRID_SAMPLES = 2560
"""160 ms: a whole number of 20 ms chunks and of 32 ms Silero windows. Audio placed on this grid
meets the VAD and the recogniser at the same phase wherever it lands in a stream."""


def on_grid(t: float, up: bool = False) -> float:
    """Media time ``t`` moved to the grid (down, or ``up``)."""
    n = t * SAMPLE_RATE / GRID_SAMPLES
    k = math.ceil(n - 1e-6) if up else math.floor(n + 1e-6)
    return k * GRID_SAMPLES / SAMPLE_RATE


class AudioError(ValueError):
    """Audio that cannot be used, with a one-line message naming the file and the problem."""


def seconds(n_samples: int, rate: int = SAMPLE_RATE) -> float:
    """Media seconds spanned by ``n_samples`` at ``rate``."""
    return n_samples / rate


def samples(t: float, rate: int = SAMPLE_RATE) -> int:
    """The sample index at media time ``t`` seconds (rounded to the nearest sample)."""
    return round(t * rate)


def load_audio(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read any audio file soundfile understands and return mono float32 at ``rate``.

    Channels are averaged; other rates are resampled with soxr. Raises :class:`AudioError` with
    the path and the reason when the file is missing, unreadable, empty or not finite.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: audio file not found")
    try:
        data, file_rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for corrupt input
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AudioError(f"{p}: cannot decode audio ({reason})") from e
    if data.shape[0] == 0:
        raise AudioError(f"{p}: audio file has no samples")
    short = wav_shortfall(p)
    if short is not None:
        raise AudioError(
            f"{p}: audio file is truncated: its header promises {short[0]} bytes of samples, "
            f"it holds {short[1]} (the {data.shape[0] / file_rate:.2f} s there would be played)"
        )
    mono = data.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{p}: audio contains NaN or infinite samples")
    return resample(mono, int(file_rate), rate)


def wav_shortfall(path: str | Path) -> tuple[int, int] | None:
    """For a WAV file cut short (a copy or download that stopped): the bytes of samples its
    header promises and the bytes it holds; None for a whole WAV or another format. (libsndfile
    reads such a file without complaint, only shorter.)"""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = f.seek(0, 2)
        at = 12
        while at + 8 <= size:
            f.seek(at)
            chunk, length = f.read(4), int.from_bytes(f.read(4), "little")
            if chunk == b"data":
                held = size - at - 8
                unknown = length in (0, 0xFFFFFFFF)  # written while streaming: no length yet
                return None if unknown or held >= length else (length, held)
            at += 8 + length + (length & 1)
    return None


def resample(audio: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono float audio; returns float32 (the input itself when rates match)."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return audio
    return np.asarray(soxr.resample(audio, from_rate, to_rate, quality="HQ"), dtype=np.float32)


def to_pcm16(audio: np.ndarray) -> bytes:
    """Float audio in [-1, 1] to little-endian int16 PCM bytes (clipped)."""
    clipped = np.clip(audio, -1.0, 1.0)
    return (clipped * 32767.0).astype("<i2").tobytes()


def write_pcm16(path: str | Path, audio: np.ndarray | bytes) -> None:
    """Save 16 kHz audio as a 16-bit WAV holding exactly the samples the pipeline heard: float
    audio goes through :func:`to_pcm16`, as every frame fed to the pipeline does, so reading the
    file back (``/ 32768``) gives the pipeline's own input, bit for bit."""
    pcm = audio if isinstance(audio, bytes) else to_pcm16(audio)
    sf.write(str(path), np.frombuffer(pcm, dtype="<i2"), SAMPLE_RATE, subtype="PCM_16")


def from_pcm16(pcm: bytes) -> np.ndarray:
    """Little-endian int16 PCM bytes to float32 audio in [-1, 1)."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def back_to_pcm16(audio: np.ndarray) -> bytes:
    """The PCM bytes :func:`from_pcm16` made ``audio`` from, exactly (float32 holds every
    int16 / 32768). :func:`to_pcm16` scales by 32767 and truncates, so a second round trip
    through it moves most samples by one step: audio sent again (a replay to a new session)
    would not be the audio sent the first time."""
    return np.clip(np.round(np.asarray(audio) * 32768.0), -32768, 32767).astype("<i2").tobytes()


def speech_bounds(
    audio: np.ndarray, rate: int = SAMPLE_RATE, floor_db: float = -45.0, frame_ms: float = 10.0
) -> tuple[int, int]:
    """First and one-past-last sample of the audible part of a clip.

    A 10 ms frame is audible when its RMS is within ``-floor_db`` dB of the clip's loudest frame.
    Used to find where speech really starts and ends in synthesised or recorded clips, so the
    ground truth does not include the clip's own leading and trailing silence. Returns (0, 0) for
    a silent clip.
    """
    hop = max(1, int(rate * frame_ms / 1000))
    n = len(audio) // hop
    if n == 0:
        return (0, 0)
    frames = audio[: n * hop].reshape(n, hop)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    peak = float(rms.max())
    if peak <= 1e-6:
        return (0, 0)
    loud = np.nonzero(rms >= peak * 10 ** (floor_db / 20))[0]
    return (int(loud[0] * hop), int(min(len(audio), (loud[-1] + 1) * hop)))


def fade_edges(audio: np.ndarray, rate: int = SAMPLE_RATE, ms: float = 8.0) -> np.ndarray:
    """A copy with short linear fade-in and fade-out, so cut points do not click."""
    out = np.array(audio, dtype=np.float32, copy=True)
    n = min(len(out) // 2, int(rate * ms / 1000))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def db_to_gain(db: float) -> float:
    """Amplitude gain for a level in dB (-20 dB -> 0.1)."""
    return float(10 ** (db / 20))


class AudioHistory:
    """At least the most recent ``keep_s`` seconds of audio (at most twice that), by media time.

    Appends are amortised O(1): the buffer holds up to twice the kept span and compacts when full.
    """

    def __init__(self, keep_s: float) -> None:
        self._keep = max(1, round(keep_s * SAMPLE_RATE))  # int() kept 1000 of 1001 samples
        self._buf = np.zeros(2 * self._keep, dtype=np.float32)
        self._used = 0  # samples held in _buf[:_used]
        self._end = 0  # absolute sample index one past the last sample held

    @property
    def end_time(self) -> float:
        """Media time one past the last sample appended."""
        return self._end / SAMPLE_RATE

    @property
    def start_time(self) -> float:
        """Media time of the oldest sample still held."""
        return (self._end - self._used) / SAMPLE_RATE

    def append(self, audio: np.ndarray) -> None:
        audio = np.asarray(audio, dtype=np.float32)
        self._end += len(audio)
        if len(audio) >= self._keep:  # the new audio alone fills the window
            self._buf[: self._keep] = audio[-self._keep :]
            self._used = self._keep
            return
        if self._used + len(audio) > len(self._buf):
            keep = min(self._used, self._keep - len(audio))
            self._buf[:keep] = self._buf[self._used - keep : self._used]
            self._used = keep
        self._buf[self._used : self._used + len(audio)] = audio
        self._used += len(audio)

    def padded(self, start: float, end: float) -> np.ndarray:
        """Exactly ``end - start`` seconds of audio: zeros where nothing is held."""
        a, b = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        out = np.zeros(max(0, b - a), dtype=np.float32)
        first = self._end - self._used
        lo, hi = max(a, first), min(b, self._end)
        if hi > lo:
            out[lo - a : hi - a] = self._buf[lo - first : hi - first]
        return out

    def slice(self, start: float, end: float) -> np.ndarray:
        """A copy of the audio between media times ``start`` and ``end`` (clipped to what is held)."""
        first = self._end - self._used
        a = max(first, round(start * SAMPLE_RATE)) - first
        b = max(first, min(self._end, round(end * SAMPLE_RATE))) - first
        return self._buf[a:b].copy() if b > a else np.zeros(0, dtype=np.float32)
