"""Echo cancellation: remove the bot's own voice from the microphone before anything listens.

On a speakerphone or laptop the bot hears itself, delayed and quieter; without this the VAD would
take that for the user and the bot would stop for its own echo. We use the WebRTC audio
processing module (AEC3) as packaged by LiveKit (``livekit.rtc.AudioProcessingModule``): it is
fed the bot's output as the far end (``process_reverse_stream``) and cleans the microphone
(``process_stream``) in 10 ms frames, estimating the echo path and its delay itself.

AEC3 suppresses the start of the user's speech while the far end plays when there is no echo to
cancel (a headset, a phone handset): measured on the barge-in scenario, the VAD heard the user
0.5 s late and Whisper misheard them. So its output is not used once the microphone is known
to be echo-free (:class:`EchoPathDetector`: after ``detect_s`` of bot audio the microphone never
correlated with it at a delay up to ``max_delay_s``); then the microphone passes untouched.
AEC3 is fed all along, so it has converged by the time it is used. Nor is its output used when
the bot has been silent for ``tail_s``: there is no echo to remove then, and the user's speech
passes exactly as it was said, whenever the bot last spoke.

The far end must reach the canceller before its echo does. The speaker plays a tick's slot only
after that tick's microphone audio went by, so the reference used for microphone samples
``[t0, t1)`` is the bot audio of ``[t0 - lag, t1 - lag)`` with ``lag`` one tick: everything in
it has been played. That is causal for any echo delay of at least one tick (20 ms), which every
real loudspeaker-to-microphone path has::

    bot output  |== reference slot ==|
    microphone                       |== chunk [t0, t1) ==|  (echo of the slot arrives here)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pydantic import BaseModel, Field

from agent.latency import Stage, Stopwatch
from agent.media import SAMPLE_RATE, from_pcm16, to_pcm16

_FRAME = SAMPLE_RATE // 100  # 10 ms, what the WebRTC module takes
_AUDIBLE = 1e-6  # mean square of bot output above which it is audible (-60 dBFS)

Reference = Callable[[float, float], np.ndarray]
"""(start, end) media seconds -> the bot audio played then (zeros where it was silent)."""


class EchoSettings(BaseModel):
    """Echo canceller knobs."""

    enabled: bool = Field(True, description="cancel the bot's own voice in the microphone")
    high_pass_filter: bool = Field(True, description="WebRTC's high-pass filter (removes hum below ~80 Hz)")
    detect_s: float = Field(
        0.5, description="bot audio compared with the microphone when looking for an echo path (s)"
    )
    max_delay_s: float = Field(0.3, description="longest echo delay looked for (s)")
    tail_s: float = Field(
        0.5,
        description="the cancelled signal is used only while bot audio played this recently (s): "
        "the echo delay plus the room's reverberation; otherwise there is nothing to cancel",
    )
    min_correlation: float = Field(
        0.3, description="normalised correlation of microphone and bot output that means echo"
    )


class EchoPathDetector:
    """Says whether the microphone carries the bot's output (at some delay); pure numpy.

    While the bot is audible, every ``detect_s / 5`` the normalised cross-correlation of the last
    ``detect_s`` of microphone and bot output is taken at delays 0..``max_delay_s``::

        state    unknown ──(bot audible detect_s, no peak)──► absent ──(peak)──► present
                    └──────────────────(peak)───────────────────────────────────────┘

    A peak above ``min_correlation`` means an echo path; once seen it stays (rooms do not change
    within a call). Until the bot has been audible for ``detect_s`` the answer is not known, and
    the caller should stay on the safe side (cancel).
    """

    def __init__(self, settings: EchoSettings) -> None:
        self._s = settings
        n = round(settings.detect_s * SAMPLE_RATE)
        self._mic = np.zeros(n, np.float32)
        self._far = np.zeros(n, np.float32)
        self._since = 0
        self._audible = 0  # samples of bot output heard so far
        self.state: Literal["unknown", "absent", "present"] = "unknown"
        self.correlation = 0.0

    def feed(self, mic: np.ndarray, far: np.ndarray) -> bool:
        """Add equal-length chunks; returns True unless the microphone is known to be echo-free."""
        if self.state == "present":
            return True
        k = len(mic)
        self._mic = np.concatenate([self._mic[k:], mic])
        self._far = np.concatenate([self._far[k:], far])
        if float(np.mean(np.square(far, dtype=np.float64))) > _AUDIBLE:
            self._audible += k
            self._since += k
        if self._since >= len(self._mic) // 5:
            self._since = 0
            self.correlation = self._peak()
            if self.correlation >= self._s.min_correlation:
                self.state = "present"
            elif self._audible >= len(self._mic):
                self.state = "absent"
        return self.state != "absent"

    def _peak(self) -> float:
        far, mic = self._far.astype(np.float64), self._mic.astype(np.float64)
        energy = float(np.dot(far, far)) * float(np.dot(mic, mic))
        if energy <= 0:
            return 0.0
        n = len(mic) + len(far)
        spec = np.fft.rfft(mic, n) * np.conj(np.fft.rfft(far, n))
        xcorr = np.fft.irfft(spec, n)[: round(self._s.max_delay_s * SAMPLE_RATE) + 1]
        return float(np.max(np.abs(xcorr)) / np.sqrt(energy))


class EchoCanceller:
    """WebRTC AEC3 on 16 kHz mono float audio, in whole 10 ms frames. Deterministic."""

    def __init__(self, settings: EchoSettings) -> None:
        from livekit import rtc

        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=True, high_pass_filter=settings.high_pass_filter
        )

    def process(self, mic: np.ndarray, far: np.ndarray) -> np.ndarray:
        """``mic`` with the echo of ``far`` removed; both the same length, a multiple of 10 ms."""
        if len(mic) % _FRAME or len(far) != len(mic):
            raise ValueError(
                f"echo canceller needs whole 10 ms frames of equal length, got {len(mic)} and {len(far)}"
            )
        out = np.empty_like(mic, dtype=np.float32)
        for i in range(0, len(mic), _FRAME):
            self._apm.process_reverse_stream(self._frame(far[i : i + _FRAME]))
            near = self._frame(mic[i : i + _FRAME])
            self._apm.process_stream(near)
            out[i : i + _FRAME] = from_pcm16(bytes(near.data))
        return out

    def _frame(self, audio: np.ndarray) -> Any:
        return self._rtc.AudioFrame(to_pcm16(audio), SAMPLE_RATE, 1, len(audio))


class EchoCancelProcessor(FrameProcessor):
    """First in the pipeline: replaces each microphone frame's audio by its echo-free version."""

    def __init__(
        self,
        canceller: EchoCanceller,
        detector: EchoPathDetector,
        reference: Reference,
        tail_s: float = 0.5,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._canceller = canceller
        self._detector = detector
        self._reference = reference
        self._received = 0
        self._tail_s = tail_s
        self._far_until = -1.0e9  # media time the bot's audio was last audible in the reference
        self.stage = Stage("echo")
        """Live-time model of this processor's compute (see agent.latency)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame) and frame.sample_rate == SAMPLE_RATE:
            mic = from_pcm16(frame.audio)
            t0 = self._received / SAMPLE_RATE
            self._received += len(mic)
            t1 = self._received / SAMPLE_RATE
            lag = t1 - t0
            watch = Stopwatch()
            with watch.running():
                far = self._reference(t0 - lag, t1 - lag)
                clean = self._canceller.process(mic, far)
                echo = self._detector.feed(mic, far)
            self.stage.finish(t1, watch.seconds)
            if float(np.mean(np.square(far, dtype=np.float64))) > _AUDIBLE:
                self._far_until = t1 - lag
            if echo and t0 - self._far_until < self._tail_s:
                frame = InputAudioRawFrame(audio=to_pcm16(clean), sample_rate=SAMPLE_RATE, num_channels=1)
        await self.push_frame(frame, direction)
