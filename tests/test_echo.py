"""Echo: the path detector (pure) and the WebRTC canceller on a delayed, attenuated copy."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from agent.echo import EchoCanceller, EchoCancelProcessor, EchoPathDetector, EchoSettings
from agent.frames import MediaClockFrame
from agent.lockstep import Lockstep
from agent.media import SAMPLE_RATE, from_pcm16, to_pcm16

CHUNK = 320  # 20 ms


def talk(seconds: float, seed: int) -> np.ndarray:
    """Speech-like test signal: band-limited noise in syllable-sized bursts."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    noise = np.convolve(rng.standard_normal(n), np.hanning(16), mode="same") * 0.05
    envelope = (np.sin(np.arange(n) / SAMPLE_RATE * 2 * np.pi * 4) > -0.3).astype(float)
    return (noise * envelope).astype(np.float32)


def echo_of(far: np.ndarray, delay_ms: float, level_db: float) -> np.ndarray:
    d = round(delay_ms / 1000 * SAMPLE_RATE)
    out = np.zeros_like(far)
    out[d:] = far[: len(far) - d] * 10 ** (level_db / 20)
    return out


def feed(detector: EchoPathDetector, mic: np.ndarray, far: np.ndarray) -> list[bool]:
    return [detector.feed(mic[i : i + CHUNK], far[i : i + CHUNK]) for i in range(0, len(mic), CHUNK)]


def test_echo_path_is_found_and_kept() -> None:
    far = talk(3.0, 1)
    mic = echo_of(far, 120, -15) + talk(3.0, 2) * 0.3
    d = EchoPathDetector(EchoSettings())
    use = feed(d, mic, far)
    assert d.state == "present" and all(use)
    assert d.correlation >= EchoSettings().min_correlation


def test_no_echo_is_known_after_enough_bot_audio() -> None:
    far, mic = talk(3.0, 1), talk(3.0, 2)
    d = EchoPathDetector(EchoSettings(detect_s=0.5))
    use = feed(d, mic, far)
    assert d.state == "absent"
    assert use[0] is True  # not known yet at first: stay on the safe side
    assert use[-1] is False


def test_nothing_is_decided_while_the_bot_is_silent() -> None:
    d = EchoPathDetector(EchoSettings())
    feed(d, talk(3.0, 2), np.zeros(3 * SAMPLE_RATE, np.float32))
    assert d.state == "unknown"


def test_echo_beyond_the_longest_delay_is_not_an_echo_path() -> None:
    far = talk(3.0, 1)
    d = EchoPathDetector(EchoSettings(max_delay_s=0.1))
    feed(d, echo_of(far, 250, -10), far)
    assert d.state == "absent"


def _cancel(mic: np.ndarray, far: np.ndarray) -> np.ndarray:
    c = EchoCanceller(EchoSettings())
    return np.concatenate(
        [c.process(mic[i : i + CHUNK], far[i : i + CHUNK]) for i in range(0, len(mic), CHUNK)]
    )


def test_canceller_removes_a_delayed_echo_and_is_deterministic() -> None:
    far = talk(4.0, 3)
    mic = echo_of(far, 80, -12)
    out = _cancel(mic, far)
    tail = slice(2 * SAMPLE_RATE, None)
    before = float(np.mean(mic[tail] ** 2))
    after = float(np.mean(out[tail] ** 2))
    assert 10 * np.log10(after / before) < -20
    assert np.array_equal(out, _cancel(mic, far))


def test_canceller_wants_whole_10ms_frames() -> None:
    c = EchoCanceller(EchoSettings())
    with pytest.raises(ValueError, match="10 ms"):
        c.process(np.zeros(100, np.float32), np.zeros(100, np.float32))


class _Keep(FrameProcessor):
    """Collects the microphone audio that leaves the echo processor and ends each tick (as the
    VAD does in the pipeline)."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.audio: list[np.ndarray] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.audio.append(from_pcm16(frame.audio))
            t = sum(len(a) for a in self.audio) / SAMPLE_RATE
            await self.push_frame(MediaClockFrame(t=t, dt=len(self.audio[-1]) / SAMPLE_RATE))


def test_the_microphone_passes_untouched_unless_the_bot_spoke_within_the_tail() -> None:
    settings = EchoSettings()
    bot = np.zeros(4 * SAMPLE_RATE, np.float32)
    bot[SAMPLE_RATE : 2 * SAMPLE_RATE] = talk(1.0, seed=3)  # the bot talks from 1 s to 2 s
    user = talk(4.0, seed=4)  # the user talks all along, into a microphone with echo
    mic = (user + echo_of(bot, 60, -12)).astype(np.float32)

    def reference(a: float, b: float) -> np.ndarray:
        i, j = round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)
        return np.concatenate([np.zeros(max(0, -i), np.float32), bot[max(0, i) : j]])

    processor = EchoCancelProcessor(
        EchoCanceller(settings),
        EchoPathDetector(settings),
        reference,
        settings.tail_s,
        enable_direct_mode=True,
    )
    keep = _Keep()

    async def go() -> None:
        async with Lockstep([processor, keep]) as line:
            for i in range(0, len(mic), CHUNK):
                await line.feed(mic[i : i + CHUNK])

    asyncio.run(go())
    out = np.concatenate(keep.audio)
    sent = from_pcm16(to_pcm16(mic))

    def changed(a: float, b: float) -> bool:
        i, j = round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)
        return not np.array_equal(out[i:j], sent[i:j])

    assert not changed(0.0, 1.0)  # before the bot spoke: exactly as said
    assert changed(1.1, 2.0)  # the bot's echo is being removed
    assert not changed(2.0 + settings.tail_s + 0.04, 4.0)  # the tail is over: exactly as said
