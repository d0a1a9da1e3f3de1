"""What a live end-of-turn detector has at each moment of a pause, built from the recording.

For each pause and each silence ``d`` (0.1 s steps) smart-turn gets what it would get live: the
audio from ``pre_speech_s`` before the turn's start up to the pause, then the first ``d``
seconds of the pause **as recorded** (room noise, breath, the line's hiss). When the pause is
shorter than ``d`` (the next speaker comes in, or the recording ends), it goes on with that
pause's own background, repeated: never with zeros, and never with the next voice::

    recording  ..[pre]=== turn ====|~~ pause ~~|=== next speaker ===
    model(d)        [pre]=== turn ====|~~ pause ~~|~~ pause ~~|~~ ...   (d longer than the pause)

A pause too short to have any background of its own (under 50 ms) goes on with the quietest
200 ms of the turn before it. A recording that is digital silence between words gives zeros,
because that is what it holds.

The words the hybrid reads at silence ``d`` are the ones the streaming recogniser (the product's
own VAD and LocalAgreement recogniser, run once over each whole recording in lockstep) has made
final by then: those that end after the turn's start and begin before the pause. At a VAD stop
the recogniser makes its tail final at once, so from the first check on they are usually the
whole turn so far; a word Whisper stamps too early (its first word often starts where its buffer
does) still counts, as it does live, and a later reading's words do not, as they do not live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from agent.eot.manifest import Item
from agent.events import Timeline, Word
from agent.latency import Stopwatch
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE, back_to_pcm16, from_pcm16, load_audio
from agent.progress import Progress
from agent.turn.detectors import SCORE_DECIMALS
from agent.turn.text_cues import Cue, text_cue

STEP_S = 0.1
TIMEOUT_S = 3.0
OFFSETS = [round(STEP_S * k, 1) for k in range(1, int(TIMEOUT_S / STEP_S) + 1)]
PRE_SPEECH_S = 0.5
"""Audio kept before the turn's start, as the live detectors keep it (``pre_speech_s``)."""
MAX_TURN_AUDIO_S = 8.0  # smart-turn looks at the last 8 s
MIN_BACKGROUND_S = 0.05
QUIET_S = 0.2
EDGE_SLACK_S = 0.05  # a word stamped this close after the pause's start still belongs before it


@dataclass(frozen=True)
class Evidence:
    """What a live detector could know about one pause: at each silence (s), smart-turn's
    P(complete) and the words final by then (``texts``: from which silence each text holds)."""

    item: Item
    scores: dict[float, float]
    texts: tuple[tuple[float, str], ...]

    @property
    def length(self) -> float:
        return self.item.pause_end - self.item.pause_start

    @property
    def text(self) -> str:
        """The words at the last check."""
        return self.texts[-1][1] if self.texts else ""

    @property
    def cue(self) -> Cue:
        return text_cue(self.text, cut_in=self.item.cut_in)

    @cached_property
    def cue_at(self) -> dict[float, Cue]:
        """The words' cue at every silence scored."""
        out, at = {}, 0
        cues = [text_cue(t, cut_in=self.item.cut_in) for _, t in self.texts]
        for d in sorted(self.scores) or OFFSETS:
            while at + 1 < len(self.texts) and self.texts[at + 1][0] <= d + 1e-9:
                at += 1
            out[d] = cues[at] if cues else "neutral"
        return out


def background(audio: np.ndarray, item: Item) -> np.ndarray:
    """The pause's own audio (to the next speech or the end of the recording), or, for a pause
    with next to none, the quietest ``QUIET_S`` of the turn before it."""
    a, b = round(item.pause_start * SAMPLE_RATE), round(item.pause_end * SAMPLE_RATE)
    own = audio[a : min(b, len(audio))]
    if len(own) >= MIN_BACKGROUND_S * SAMPLE_RATE:
        return own
    start = round(max(0.0, (item.turn_start or 0.0)) * SAMPLE_RATE)
    turn = audio[start:a] if a - start >= QUIET_S * SAMPLE_RATE else audio[:a]
    n = round(QUIET_S * SAMPLE_RATE)
    if len(turn) <= n:
        return turn if len(turn) else own
    energy = np.convolve(np.square(turn, dtype=np.float64), np.ones(n), mode="valid")
    i = int(np.argmin(energy[:: n // 4])) * (n // 4)
    return turn[i : i + n]


def model_input(audio: np.ndarray, item: Item, silence: float) -> np.ndarray:
    """smart-turn's input ``silence`` seconds into the pause (see the module doc)."""
    turn_start = item.turn_start if item.turn_start is not None else item.pause_start - MAX_TURN_AUDIO_S
    begin = max(0.0, turn_start - PRE_SPEECH_S, item.pause_start - MAX_TURN_AUDIO_S)
    a = round(item.pause_start * SAMPLE_RATE)
    speech = audio[round(begin * SAMPLE_RATE) : a]
    want = round(silence * SAMPLE_RATE)
    pause = background(audio, item)
    if len(pause) == 0:
        return speech
    reps = int(np.ceil(want / len(pause)))
    return np.concatenate([speech, np.tile(pause, reps)[:want]])


Committed = list[tuple[float, Word]]  # (media time it was made final, the word)


def stream_words(audio: np.ndarray, whisper: object, settings: object) -> Committed:
    """Every word the product's streaming recogniser makes final over a recording, with when."""
    from agent.asr.streaming import StreamingRecognizer
    from agent.asr.streaming_stt import StreamingSTTProcessor
    from agent.settings import Settings
    from agent.vad import SileroVoice, VADProcessor

    assert isinstance(settings, Settings)
    timeline = Timeline()
    vad = VADProcessor(SileroVoice(), settings.vad, timeline, enable_direct_mode=True)
    recognizer = StreamingRecognizer(
        whisper.decode_window,  # type: ignore[attr-defined]
        settings.streaming,
        whisper.final_decoder(settings.streaming.flush_beam_size),  # type: ignore[attr-defined]
    )
    stt = StreamingSTTProcessor(recognizer, timeline, enable_direct_mode=True)
    pcm = back_to_pcm16(audio)  # the samples themselves: to_pcm16 would move most by one step
    chunk = 2 * SAMPLE_RATE // 50

    async def go() -> None:
        async with Lockstep([vad, stt]) as line:
            for i in range(0, len(pcm), chunk):
                await line.feed(pcm[i : i + chunk])

    asyncio.run(go())
    return [
        (e["t"], Word(w["w"], w["start"], w["end"]))
        for e in timeline.events
        if e["type"] == "final"
        for w in e["words"]
    ]


def turn_text(words: Committed, item: Item, silence: float) -> str:
    """The turn's words before the pause that the recogniser made final by ``silence`` into it."""
    start = item.turn_start if item.turn_start is not None else item.pause_start - 25.0
    until = item.pause_start + silence + 1e-6
    edge = item.pause_start + EDGE_SLACK_S
    return " ".join(w.text for t, w in words if t <= until and w.end > start and w.start < edge)


def texts(words: Committed, item: Item, offsets: Iterable[float]) -> tuple[tuple[float, str], ...]:
    """The turn's text at each silence, kept only where it changes."""
    out: list[tuple[float, str]] = []
    for d in offsets:
        text = turn_text(words, item, d)
        if not out or out[-1][1] != text:
            out.append((d, text))
    return tuple(out)


def gather(
    items: Iterable[Item],
    score: Callable[[np.ndarray], float],
    read: Callable[[np.ndarray], Committed],
    offsets: Iterable[float] = OFFSETS,
) -> tuple[list[Evidence], float]:
    """Evidence for each pause, and the mean smart-turn time per check (ms). ``read`` gives a
    recording's committed words (:func:`stream_words`); it runs once per recording. ``offsets``:
    the silences to score (all by default; a sweep needs them all, one setting only its checks)."""
    audio_cache: dict[str, np.ndarray] = {}
    words_cache: dict[str, Committed] = {}
    out = []
    watch = Stopwatch()
    total, calls = 0.0, 0
    items = list(items)
    progress = Progress("eot-eval: pauses scored", len(items), "pauses")
    for k, item in enumerate(items):
        progress.update_to(k)
        if item.audio not in audio_cache:
            # As a pipeline hears it: 16-bit samples (a 16-bit file's own, a float file's nearest).
            audio_cache[item.audio] = from_pcm16(back_to_pcm16(load_audio(item.audio)))
            words_cache[item.audio] = read(audio_cache[item.audio])
        audio = audio_cache[item.audio]
        scores = {}
        for d in offsets:
            x = model_input(audio, item, d)
            with watch.running():
                scores[d] = round(score(x), SCORE_DECIMALS)  # as the evidence file keeps it
            total += watch.seconds
            calls += 1
        out.append(Evidence(item, scores, texts(words_cache[item.audio], item, scores)))
    progress.update_to(len(items))
    progress.close()
    return out, 1000 * total / max(1, calls)
