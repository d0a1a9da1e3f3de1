"""Fault injection for the protocol emulators, decided on the session's media time.

    --drop-every MIN-MAX   close the connection abruptly at a random time every MIN..MAX s
    --drop-at S            close it abruptly once, at S s of audio
    --drop-on-close        close it abruptly once, when the client asks to close (CloseStream,
                           Terminate), before the last results: the end of a call on a bad line
    --stall-at S           at S s of audio stop answering (keep the socket open, read nothing)
    --delay-ms N           hold every message N ms before sending it
    --error-at S           at S s send the provider's error message and close

Times are seconds of audio received in the session, so a fault hits the same spot of the audio
whatever the client's speed. Random drop times come from a seeded generator: repeatable.
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
    """What to break, and when (seconds of session audio). A stall, an error, ``drop_at`` and
    ``drop_on_close`` happen once per server (the first session to reach that time, or to be
    closed); ``drop_every`` drops happen in every session."""

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
        """When the session starting now drops (s of its audio), or None."""
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
