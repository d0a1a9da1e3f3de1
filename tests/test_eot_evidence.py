"""The evidence of ``agent eot-eval`` is what a live detector hears: the pause as recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from agent.eot.evidence import OFFSETS, gather, model_input, turn_text
from agent.eot.manifest import Item
from agent.events import Timeline, Word
from agent.media import SAMPLE_RATE

SR = SAMPLE_RATE


def tone(hz: float, seconds: float, level: float) -> np.ndarray:
    return (level * np.sin(2 * np.pi * hz * np.arange(round(seconds * SR)) / SR)).astype(np.float32)


def recording() -> np.ndarray:
    """0.2 s of 300 Hz (another speaker), 1 s of 500 Hz (the turn), a 0.4 s pause holding a
    quiet 1 kHz tone (the room), then 1 s of 3 kHz (the next speaker)."""
    return np.concatenate(
        [tone(300, 0.2, 0.3), tone(500, 1.0, 0.5), tone(1000, 0.4, 0.01), tone(3000, 1.0, 0.5)]
    )


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SR)[int(np.argmax(spectrum))])


ITEM = Item("clip.wav", pause_start=1.2, pause_end=1.6, label="eot", turn_start=0.2)


def test_the_model_hears_the_pause_as_recorded_then_its_own_background_repeated() -> None:
    audio = recording()
    short = model_input(audio, ITEM, 0.3)
    assert np.array_equal(short[-round(0.3 * SR) :], audio[round(1.2 * SR) : round(1.5 * SR)])
    long = model_input(audio, ITEM, 1.0)  # longer than the 0.4 s pause
    tail = long[-round(1.0 * SR) :]
    assert round(peak_hz(tail)) == 1000  # the room, never the next speaker's 3 kHz
    assert float(np.min(np.abs(tail[np.abs(tail) > 0]))) > 0 and np.count_nonzero(tail == 0) < 0.01 * len(
        tail
    )
    pause = audio[round(1.2 * SR) : round(1.6 * SR)]
    assert np.array_equal(tail, np.tile(pause, 3)[: len(tail)])
    # From pre_speech_s (0.5 s) before the turn: here the start of the recording.
    assert len(long) == round((1.2 + 1.0) * SR) and np.array_equal(
        long[: round(0.2 * SR)], audio[: round(0.2 * SR)]
    )


def test_a_digital_silence_pause_stays_silent_and_a_pause_with_no_room_uses_the_turns_quietest() -> None:
    audio = recording()
    audio[round(1.2 * SR) : round(1.6 * SR)] = 0.0  # a true digital-silence recording
    assert not np.any(model_input(audio, ITEM, 0.8)[-round(0.8 * SR) :])
    quiet = np.concatenate(
        [tone(500, 0.5, 0.5), tone(700, 0.25, 0.002), tone(500, 0.5, 0.5), tone(3000, 1.0, 0.5)]
    )
    touching = Item("clip.wav", pause_start=1.25, pause_end=1.26, label="eot", turn_start=0.0)
    tail = model_input(quiet, touching, 0.6)[-round(0.6 * SR) :]
    assert round(peak_hz(tail)) == 700 and float(np.max(np.abs(tail))) < 0.01


def test_gather_scores_every_step_and_reads_the_turns_committed_words(tmp_path: Path) -> None:
    sf.write(tmp_path / "clip.wav", recording(), SR)
    item = Item(str(tmp_path / "clip.wav"), 1.2, 1.6, "eot", 0.2)
    seen: list[np.ndarray] = []

    def score(x: np.ndarray) -> float:
        seen.append(x)
        return 0.5

    said = [(0.9, Word("someone", 0.0, 0.15)), (1.4, Word("is", 0.3, 0.5)), (1.4, Word("it", 0.5, 0.7))]
    said += [(1.4, Word("open?", 0.7, 1.1))]
    reads: list[int] = []

    def read(audio: np.ndarray) -> list[tuple[float, Word]]:
        reads.append(len(audio))
        return said

    [e], _ = gather([item, item][:1], score, read)
    assert len(seen) == len(OFFSETS) and set(e.scores) == set(OFFSETS)
    assert all(np.count_nonzero(x[-SR // 10 :]) > 0.8 * SR // 10 for x in seen)  # not zero padding
    assert e.text == "is it open?" and e.cue == "question" and reads == [len(recording())]
    assert turn_text(said, Item("x", 1.2, 1.6, "hold", 0.6), 0.3) == "it open?"  # "is" ended before 0.6
    assert turn_text(said, Item("x", 1.2, 1.6, "hold", 0.2), 0.1) == ""  # not final yet at 1.3


def test_the_evaluation_feeds_a_recordings_own_samples() -> None:
    """A 16-bit recording reaches the pipeline as its very samples; float audio through
    ``to_pcm16`` would move most of them by one step, and Whisper then read '5.' where the replay,
    hearing the samples themselves, read 'M5.'."""
    import asyncio

    from agent.lockstep import Lockstep
    from agent.media import back_to_pcm16, from_pcm16, to_pcm16
    from agent.settings import Settings
    from agent.tap import AudioTap
    from agent.vad import SileroVoice, VADProcessor

    pcm = np.arange(-16000, 16000, 5, dtype="<i2").tobytes()
    assert to_pcm16(from_pcm16(pcm)) != pcm  # why bytes are fed, not floats
    tap = AudioTap(enable_direct_mode=True)
    vad = VADProcessor(SileroVoice(), Settings().vad, Timeline(), enable_direct_mode=True)  # the clock

    async def go() -> None:
        async with Lockstep([vad, tap]) as line:
            for i in range(0, len(pcm), 640):
                await line.feed(back_to_pcm16(from_pcm16(pcm[i : i + 640])))

    asyncio.run(go())
    assert tap.pcm == pcm
