"""Fault injection for the protocol emulators.

    --drop-every MIN-MAX   close the connection abruptly MIN..MAX s (wall clock) after it opened,
                           every session: a line that breaks at random times
    --drop-at S            close it abruptly once, at S s of audio
    --drop-on-close        close it abruptly once, when the client asks to close (CloseStream,
                           Terminate), before the last results: the end of a call on a bad line
    --stall-at S           at S s of audio stop answering (keep the socket open, read nothing)
    --delay-ms N           hold every message N ms before sending it
    --error-at S           at S s send the provider's error message and close

A network breaks on its own clock, whatever the audio: ``--drop-every`` counts wall seconds from
the handshake, so a client that replays a backlog faster than real time can get through it before
the next drop (counted in seconds of audio, a backlog longer than the drop interval would never be
read through). The one-time faults (``--drop-at``, ``--stall-at``, ``--error-at``) count seconds of
audio received in the session, so that they hit the same spot of the audio whatever the client's
speed. Random drop intervals come from a seeded generator: the same series every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


def parse_range(text: str) -> tuple[float, float]:
    """``"5-10"`` -> (5.0, 10.0); ValueError with a one-line message otherwise."""
    low, sep, high = text.partition("-")
    try:
        lo, hi = float(low), float(high if sep else low)
    except ValueError:
        raise ValueError(f"--drop-every {text!r}: expected MIN-MAX seconds, e.g. 5-10") from None
    if not 0 < lo <= hi:
        raise ValueError(f"--drop-every {text!r}: need 0 < MIN <= MAX")
    return lo, hi


@dataclass
class Faults:
    """What to break, and when. A stall, an error, ``drop_at`` and ``drop_on_close`` happen once
    per server (the first session to reach that many seconds of audio, or to be closed);
    ``drop_every`` drops happen in every session, that many wall seconds after it opened."""

    drop_every: tuple[float, float] | None = None
    drop_at: float | None = None
    drop_on_close: bool = False
    stall_at: float | None = None
    delay_ms: float = 0.0
    error_at: float | None = None
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _stalled: bool = field(init=False, default=False)
    _dropped: bool = field(init=False, default=False)
    _errored: bool = field(init=False, default=False)
    _dropped_close: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def next_drop(self) -> float | None:
        """How long the session opening now lives (wall seconds), or None."""
        return self._rng.uniform(*self.drop_every) if self.drop_every else None

    def take_stall(self, t: float) -> bool:
        if self.stall_at is None or self._stalled or t < self.stall_at:
            return False
        self._stalled = True
        return True

    def take_drop(self, t: float) -> bool:
        """The one-time drop (``drop_at``) is due at ``t``."""
        if self.drop_at is None or self._dropped or t < self.drop_at:
            return False
        self._dropped = True
        return True

    def take_close_drop(self) -> bool:
        """The one-time drop at a client's close (``drop_on_close``) is due now."""
        if not self.drop_on_close or self._dropped_close:
            return False
        self._dropped_close = True
        return True

    def take_error(self, t: float) -> bool:
        if self.error_at is None or self._errored or t < self.error_at:
            return False
        self._errored = True
        return True
