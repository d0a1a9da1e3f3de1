"""The caller's loudspeaker, as Twilio runs it: buffered bot audio, marks, ``clear``.

The server sends bot audio (``media``) and ``mark`` messages; Twilio queues both in order, plays
the audio at real speed and echoes a mark once the audio before it has played. ``clear`` empties
the queue, and every mark still in it is echoed at once (the server learns what was dropped)::

    received   |== a ==|m1|== b ==|m2|== c ==|m3|
    played     |== a ==|m1 echoed |== b ==|  clear: c dropped; m2, m3 echoed as cleared

Pure: the caller's loop calls :meth:`Playout.play` once per 20 ms tick with the media time. It
also keeps what a caller can tell about the bot (:class:`~agent.replay.player.BotView`): a stretch
of bot audio starts with the first audio received after a silence and stops when no audio has
come for ``gap_s`` (or at a ``clear``), stamped at the last audio's end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.media import SAMPLE_RATE


@dataclass(frozen=True)
class Echo:
    """A mark echoed back to the server: played, or dropped by a ``clear``."""

    name: str
    t: float
    cleared: bool


@dataclass
class Playout:
    """Bot audio and marks in the order received; played tick by tick."""

    gap_s: float = 0.1
    _audio: list[np.ndarray] = field(default_factory=list)
    _queued: int = 0  # samples in _audio not played yet
    _marks: list[tuple[int, str]] = field(default_factory=list)  # (samples before it, name)
    _played: int = 0  # samples played since the queue was last empty (mark positions count from here)
    speaking: bool = False
    speech_started_at: float | None = None
    last_stop: float | None = None
    _last_audio_end: float = 0.0  # media time the last received audio ends (as received)
    events: list[dict[str, object]] = field(default_factory=list)
    """``bot_audio_start`` / ``bot_audio_stop`` as the caller received them."""

    def receive_audio(self, audio: np.ndarray, t: float) -> None:
        """Bot audio arrived at media time ``t``."""
        if len(audio) == 0:
            return
        self._audio.append(np.asarray(audio, dtype=np.float32))
        self._queued += len(audio)
        if not self.speaking:
            self.speaking = True
            self.speech_started_at = t
            self.events.append({"t": round(t, 4), "type": "bot_audio_start"})
        self._last_audio_end = t + len(audio) / SAMPLE_RATE

    def receive_mark(self, name: str) -> None:
        """A mark arrived: echoed once the audio received before it has played."""
        self._marks.append((self._played + self._queued, name))

    def clear(self, t: float) -> list[Echo]:
        """``clear``: drop the audio not played; every pending mark is echoed now."""
        self._audio, self._queued = [], 0
        echoes = [Echo(name, t, cleared=True) for _, name in self._marks]
        self._marks = []
        self._played = 0
        if self.speaking:
            self._stop(min(t, self._last_audio_end), interrupted=True)
        return echoes

    def play(self, n: int, t: float) -> tuple[np.ndarray, list[Echo]]:
        """Play ``n`` samples from media time ``t``: the audio heard and the marks now echoed."""
        out = np.zeros(n, dtype=np.float32)
        filled = 0
        while filled < n and self._audio:
            head = self._audio[0]
            k = min(n - filled, len(head))
            out[filled : filled + k] = head[:k]
            filled += k
            if k == len(head):
                self._audio.pop(0)
            else:
                self._audio[0] = head[k:]
        self._queued -= filled
        self._played += filled
        echoes = []
        while self._marks and self._marks[0][0] <= self._played:
            echoes.append(Echo(self._marks.pop(0)[1], t + filled / SAMPLE_RATE, cleared=False))
        if self._queued == 0 and not self._marks:
            self._played = 0
        if self.speaking and t - self._last_audio_end >= self.gap_s - 1e-9:
            self._stop(self._last_audio_end, interrupted=False)
        return out, echoes

    def _stop(self, t: float, interrupted: bool) -> None:
        self.speaking = False
        self.last_stop = t
        event: dict[str, object] = {"t": round(t, 4), "type": "bot_audio_stop"}
        if interrupted:
            event["interrupted"] = True
        self.events.append(event)
