"""Turn scenario steps into audio clips whose speech and pauses are known exactly.

The ground truth comes from here, never from hand-typed times: a synthesised turn's speech
starts at its first word and ends at its last (Piper's alignments); a recorded turn's speech is
where it is audible; a pause is the gap between the word before the cut and the word after::

    sentence audio  [my][number][is][four][one][five]|[five][five]...
    cut at the boundary after "five", insert 1.2 s:
    clip            [my][number][is][four][one][five]  ...1.2 s...  [five][five]...
                                                   ^pause start      ^pause end
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agent.media import SAMPLE_RATE, db_to_gain, fade_edges, load_audio, speech_bounds
from agent.replay.scenario import Scenario, ScenarioError, Step, split_text
from agent.tts.piper_voice import PiperSynth, Synthesis


@dataclass(frozen=True)
class Clip:
    """Audio for one step, with the truth about it in seconds from the clip's first sample.

    ``speech`` is (start, end) of the audible speech or noise; ``pauses`` are the silent gaps
    inside the turn; ``kind`` is the step's kind ("turn", "backchannel", "noise", "silence").
    """

    audio: np.ndarray
    kind: str
    text: str
    speech: tuple[float, float]
    pauses: tuple[tuple[float, float], ...] = ()

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def build_clip(step: Step, scenario: Scenario, synth: PiperSynth, where: str) -> Clip:
    """The clip for one step. ``where`` names the step in errors (``turns.3``)."""
    if step.silence is not None:
        n = round(step.silence * SAMPLE_RATE)
        return Clip(np.zeros(n, dtype=np.float32), "silence", "", (0.0, 0.0))
    if step.noise is not None:
        audio = cough()
        start, end = speech_bounds(audio)
        return Clip(audio, "noise", "[cough]", (start / SAMPLE_RATE, end / SAMPLE_RATE))
    assert step.kind is not None
    if step.user is not None:
        clip = text_clip(step.user, synth, step.kind)
    else:
        assert step.audio is not None
        clip = audio_clip(step, scenario, where)
    return _at_level(clip, step.level_db)


def text_clip(text: str, synth: PiperSynth, kind: str) -> Clip:
    """Synthesise the whole sentence once, then cut it at each ``[pause S]`` word boundary."""
    pieces, pauses = split_text(text)
    full = " ".join(pieces)
    spoken = synth.synthesize(full)
    if not spoken.words:
        raise ValueError(f"the voice produced no words for {full!r}")
    cuts: list[tuple[int, float]] = []  # (index of the first word after the cut, pause length)
    count = 0
    for piece, pause in zip(pieces[:-1], pauses, strict=True):
        count += len(piece.split())
        cuts.append((count, pause))
    return _cut(spoken, cuts, kind, full)


def _cut(spoken: Synthesis, cuts: list[tuple[int, float]], kind: str, text: str) -> Clip:
    words = spoken.words
    parts: list[np.ndarray] = []
    pauses: list[tuple[float, float]] = []
    prev = 0  # sample where the current part starts in the synthesised audio
    shift = 0.0  # seconds of silence inserted so far
    for first_after, length in cuts:
        before, after = words[first_after - 1], words[first_after]
        cut = round((before.end + after.start) / 2 * SAMPLE_RATE)
        parts.append(fade_edges(spoken.audio[prev:cut]) if prev else _fade_out(spoken.audio[:cut]))
        parts.append(np.zeros(round(length * SAMPLE_RATE), dtype=np.float32))
        pauses.append((before.end + shift, after.start + shift + length))
        shift += length
        prev = cut
    parts.append(_fade_in(spoken.audio[prev:]) if prev else spoken.audio)
    audio = np.concatenate(parts).astype(np.float32)
    return Clip(audio, kind, text, (words[0].start, words[-1].end + shift), tuple(pauses))


def audio_clip(step: Step, scenario: Scenario, where: str) -> Clip:
    """A recorded turn, resampled, with pauses cut in where the author placed them."""
    assert step.audio is not None and step.kind is not None
    path = scenario.resolve(step.audio)
    try:
        audio = load_audio(path)
    except ValueError as e:
        raise ScenarioError(f"{scenario.path}: {where}.audio: {e}") from None
    start, end = speech_bounds(audio)
    if end <= start:
        raise ScenarioError(f"{scenario.path}: {where}.audio: {path} holds no audible sound")
    parts, pauses, prev, shift = [], [], 0, 0.0
    for pause in sorted(step.pauses, key=lambda p: p.at):
        cut = round(pause.at * SAMPLE_RATE)
        parts += [
            fade_edges(audio[prev:cut]),
            np.zeros(round(pause.length * SAMPLE_RATE), np.float32),
        ]
        pauses.append((pause.at + shift, pause.at + shift + pause.length))
        shift += pause.length
        prev = cut
    parts.append(audio[prev:])
    joined = np.concatenate(parts).astype(np.float32)
    speech = (start / SAMPLE_RATE, end / SAMPLE_RATE + shift)
    return Clip(joined, step.kind, step.audio, speech, tuple(pauses))


def _at_level(clip: Clip, level_db: float) -> Clip:
    peak = float(np.max(np.abs(clip.audio))) if len(clip.audio) else 0.0
    if peak <= 0:
        return clip
    audio = clip.audio * (db_to_gain(level_db) / peak)
    return Clip(audio.astype(np.float32), clip.kind, clip.text, clip.speech, clip.pauses)


def _fade_out(audio: np.ndarray) -> np.ndarray:
    out = fade_edges(audio)
    n = min(len(audio) // 2, int(SAMPLE_RATE * 0.008))
    out[:n] = audio[:n]  # keep the clip's own start
    return out


def _fade_in(audio: np.ndarray) -> np.ndarray:
    out = fade_edges(audio)
    n = min(len(audio) // 2, int(SAMPLE_RATE * 0.008))
    if n:
        out[-n:] = audio[-n:]  # keep the clip's own end
    return out


def cough(seed: int = 7) -> np.ndarray:
    """A synthetic cough: two bursts of shaped noise with a fast attack (about 0.45 s).

    Deterministic (fixed seed), so replays stay identical. Not speech, but loud and broadband,
    which is what makes a VAD fire.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros(int(0.55 * SAMPLE_RATE), dtype=np.float32)
    for begin, length, gain in ((0.02, 0.22, 1.0), (0.28, 0.18, 0.6)):
        n = int(length * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        envelope = (1 - np.exp(-t / 0.008)) * np.exp(-t / (length / 3))
        noise = rng.standard_normal(n)
        # Low-pass the noise (24-tap Hann window) so it sounds breathy rather than hissy.
        shaped = np.convolve(noise, np.hanning(24), mode="same")
        burst = shaped / np.max(np.abs(shaped)) * envelope * gain
        i = int(begin * SAMPLE_RATE)
        out[i : i + n] += burst.astype(np.float32)
    return (out / np.max(np.abs(out)) * 0.7).astype(np.float32)
