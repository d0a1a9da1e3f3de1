"""Progress of long work (a benchmark, an evaluation) on stderr, so nobody waits in the dark.

On a terminal a bar (tqdm); in a log or a pipe a plain line at most every ``every_s`` seconds of
wall time, and one when the work is done::

    bench asr: trn00.wav streaming: 120.0 / 600.0 s of audio (20 %)
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


class Progress:
    """Counts done work out of ``total`` (in ``unit``s); ``close`` when it ends."""

    def __init__(
        self, what: str, total: float, unit: str, stream: TextIO | None = None, every_s: float = 10.0
    ) -> None:
        self._what = what
        self._total = total
        self._unit = unit
        self._stream = stream or sys.stderr
        self._every_s = every_s
        self._done = 0.0
        self._said_at = time.monotonic()
        self._bar = (
            tqdm(total=total, desc=what, unit=unit, file=self._stream, leave=False)
            if self._stream.isatty()
            else None
        )

    def update_to(self, done: float) -> None:
        """The work done so far (not less than before)."""
        step, self._done = done - self._done, max(self._done, done)
        if self._bar is not None:
            self._bar.update(max(0.0, step))
        elif time.monotonic() - self._said_at >= self._every_s:
            self._say()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._done > 0:
            self._say()

    def _say(self) -> None:
        share = f" ({100 * self._done / self._total:.0f} %)" if self._total else ""
        print(
            f"{self._what}: {self._done:g} / {self._total:g} {self._unit}{share}",
            file=self._stream,
            flush=True,
        )
        self._said_at = time.monotonic()
