"""A scenario's noise floor: pink noise, babble or a recording, under the whole microphone track.

Live, the pauses between a caller's words are never digital silence: a room hums, a line hisses,
people talk at the next table. The replay lays a background (``background:`` in a scenario, or
``replay.background`` for every scenario without one) under everything the microphone hears, at a
set RMS level, looping it::

    mic = user clips + echo of the bot + background (looped, from media time 0)

Each kind is deterministic (a fixed seed, the deterministic voice), so a replay stays repeatable:

- ``pink``: 1/f noise (the spectrum of most room and fan noise), 23.3 s, seamless (made in the
  frequency domain, so it wraps around without a click);
- ``babble``: five voices talking over one another (the bundled voice, sentences at random
  offsets), 20 s;
- ``recording``: a file, any rate and channel count.
"""

from __future__ import annotations

import numpy as np

from agent.media import SAMPLE_RATE, load_audio
from agent.replay.scenario import Background, Scenario, ScenarioError
from agent.tts.piper_voice import PiperSynth

_PINK_S = 23.3
_BABBLE_S = 20.0
_BABBLE_VOICES = 5
_BABBLE_LINES = (
    "I think we should meet again next week to go over the numbers.",
    "Did you see the game last night? It went into extra time.",
    "The printer on the second floor is out of paper again.",
    "She said the train was late because of the weather.",
    "We could order lunch in, or walk down to the place on the corner.",
    "My brother is moving to a new flat at the end of the month.",
    "Can you send me the slides before the call this afternoon?",
    "They changed the parking rules, so now you need a permit.",
)


class BackgroundTrack:
    """An endless loop of background audio, read 20 ms at a time from media time 0."""

    def __init__(self, loop: np.ndarray) -> None:
        self.loop = loop.astype(np.float32)
        self._pos = 0

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` samples."""
        idx = (self._pos + np.arange(n)) % len(self.loop)
        self._pos = (self._pos + n) % len(self.loop)
        return self.loop[idx]


def at_rms(audio: np.ndarray, level_db: float) -> np.ndarray:
    """``audio`` scaled to an RMS level of ``level_db`` dBFS."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    return audio if rms <= 0 else (audio * (10 ** (level_db / 20) / rms)).astype(np.float32)


def pink_noise(seconds: float, seed: int = 11) -> np.ndarray:
    """Pink (1/f power) noise that loops without a seam."""
    n = round(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n).astype(np.float32)


def babble(voice: PiperSynth, seconds: float = _BABBLE_S, seed: int = 5) -> np.ndarray:
    """Several talkers at once: each voice says the lines in its own order, at its own offset."""
    rng = np.random.default_rng(seed)
    lines = [voice.synthesize(text).audio for text in _BABBLE_LINES]
    n = round(seconds * SAMPLE_RATE)
    out = np.zeros(n, np.float32)
    for _ in range(_BABBLE_VOICES):
        pos = int(rng.integers(0, SAMPLE_RATE))
        for i in rng.permutation(len(lines)):
            line = lines[i]
            idx = (pos + np.arange(len(line))) % n
            out[idx] += line * float(rng.uniform(0.6, 1.0))
            pos += len(line) + int(rng.integers(SAMPLE_RATE // 10, SAMPLE_RATE // 2))
    return out


def background_track(background: Background, scenario: Scenario, voice: PiperSynth) -> BackgroundTrack:
    """The looping track for a scenario's background, at its level (ScenarioError for a bad file)."""
    if background.kind == "pink":
        loop = pink_noise(_PINK_S)
    elif background.kind == "babble":
        loop = babble(voice)
    else:
        assert background.file is not None
        try:
            loop = load_audio(scenario.resolve(background.file))
        except ValueError as e:
            raise ScenarioError(f"{scenario.path}: background.file: {e}") from None
    return BackgroundTrack(at_rms(loop, background.level_db))


def room_tone(files: list[str], min_gap_s: float = 0.5, edge_s: float = 0.1) -> np.ndarray:
    """A room's own background, cut from recordings: the stretches where the VAD hears no voice
    for at least ``min_gap_s`` (less ``edge_s`` at each end, where speech fades), joined."""
    from agent.eot.manifest import voice_spans

    pieces: list[np.ndarray] = []
    for f in files:
        audio = load_audio(f)
        spans, length = voice_spans(f)  # type: ignore[arg-type]
        edges = [0.0, *[x for span in spans for x in span], length]
        for a, b in zip(edges[::2], edges[1::2], strict=False):
            if b - a >= min_gap_s:
                pieces.append(audio[round((a + edge_s) * SAMPLE_RATE) : round((b - edge_s) * SAMPLE_RATE)])
    if not pieces:
        raise ValueError("no stretch without voice in these recordings")
    return np.concatenate(pieces)
