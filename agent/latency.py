"""Honest latency at any replay speed: each stage as a single server in live time.

Decisions run on media time, so a replay makes the same decisions at full speed and in real
time. What a live call would add is the compute time each stage really took on this machine. A
stage that is still busy with the previous item delays the next one::

    media:   item A ready at 1.00 s        item B ready at 1.10 s
    stage:   |== A: 0.30 s ==|== B: 0.30 s ==|
    live:    A done at 1.30 s              B done at 1.60 s  (waited 0.20 s for A)

:class:`Stage` keeps that queue for one stage; callers pass the live time their input became
available (media time plus the upstream lag) and the measured compute seconds.

In a live call (``live``) there is nothing to model: media time is the call's own clock and
already holds every lag, so a stage only adds up its compute time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stage:
    """One pipeline stage modelled as a single server that processes items in order."""

    def __init__(self, name: str, live: bool = False) -> None:
        self.name = name
        self.live = live
        self._busy_until = 0.0
        self.compute_seconds = 0.0
        """Total measured compute time of this stage (for the summary)."""

    def finish(self, ready_live: float, compute_s: float) -> float:
        """Live time the stage finishes an item whose input was ready at ``ready_live``."""
        if self.live:
            self.compute_seconds += compute_s
            return ready_live
        start = max(ready_live, self._busy_until)
        self._busy_until = start + compute_s
        self.compute_seconds += compute_s
        return self._busy_until


class Stopwatch:
    """Measures compute time (wall clock). Used only for latency figures, never for decisions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def running(self) -> Iterator[Stopwatch]:
        begin = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds = time.perf_counter() - begin
