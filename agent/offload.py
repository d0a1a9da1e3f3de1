"""Where a processor's slow calls run: inline in a replay, off the event loop in a live call.

A model call (a Whisper reading, a smart-turn check, a Piper sentence) takes tens to hundreds of
milliseconds. The processor that owns the model keeps its inputs in an :class:`Inbox` and hands
each slow call to its :class:`Jobs`; the two shells differ only in when a job's result comes back::

    replay (lockstep)   frame ─► inbox ─► apply ─► submit(job) ═ job runs, the chain waits ═► result
                        every result is used before the next frame: decisions are functions of media
                        time alone; the compute time goes to the live-time figures (agent.latency)

    live                frame ─► inbox ─► apply ─► submit(job) ─► job runs in the stage's thread
                        frame ─► inbox (held: the job is using the state) ─► pushed on at once
                        frame ─► take(): done ─► result used now, stamped with the media time it
                                 came back at ─► the held inputs are applied, in order

Frames themselves never wait for a job: the media clock and the audio flow on, so a slow stage
shows up as lag of its own output, never as a stalled input. Inputs are never dropped; a stage
that falls behind may skip work that a later input makes stale (a reading of an older buffer):
:meth:`Inbox.later` tells it whether a newer clock tick is already waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from agent.events import Timeline

T = TypeVar("T")


@dataclass(frozen=True)
class Done(Generic[T]):
    """A finished job: its value, its compute time and what it was asked for (``tag``)."""

    value: T
    compute_s: float
    tag: Any = None


class Jobs(Generic[T]):
    """One stage's slow calls, one at a time.

    Replay (``live`` False): :meth:`submit` runs the call and returns its result (in a worker
    thread when ``thread`` is set, so the event loop stays free; the pipeline, in lockstep,
    waits). Live: :meth:`submit` starts the call in this stage's own thread and returns None;
    :meth:`take` hands the result over once it is there. A stage whose calls are mostly quick
    (a turn tick that runs no model) gives them ``grace_s``: a result ready within it is
    returned at once, as in a replay, instead of one frame later.
    """

    def __init__(self, name: str, live: bool, thread: bool = True, grace_s: float = 0.0) -> None:
        self.name = name
        self.live = live
        self._thread = thread
        self._grace_s = grace_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) if live else None
        self._running: Future[Done[T]] | None = None

    @property
    def busy(self) -> bool:
        """True while a live job is running or its result has not been taken."""
        return self._running is not None

    async def submit(self, call: Callable[[], T], tag: Any = None) -> Done[T] | None:
        """Run ``call``: its result now (replay), or None and the result later (live)."""
        if self._executor is None:
            return await asyncio.to_thread(_timed, call, tag) if self._thread else _timed(call, tag)
        assert self._running is None, f"{self.name}: a job is already running"
        self._running = self._executor.submit(_timed, call, tag)
        if self._grace_s > 0:
            await asyncio.wait({asyncio.wrap_future(self._running)}, timeout=self._grace_s)
            return self.take()
        return None

    def take(self) -> Done[T] | None:
        """The finished live job's result (raising what it raised), or None while it runs."""
        if self._running is None or not self._running.done():
            return None
        running, self._running = self._running, None
        return running.result()

    async def wait(self) -> Done[T] | None:
        """Wait for the live job under way (the end of a call) and return its result."""
        if self._running is None:
            return None
        await asyncio.wrap_future(self._running)
        return self.take()

    def close(self) -> None:
        """No more jobs: let the thread go once the job under way (if any) ends."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def _timed(call: Callable[[], T], tag: Any) -> Done[T]:
    begin = time.perf_counter()
    value = call()
    return Done(value, time.perf_counter() - begin, tag)


class Inbox(Generic[T]):
    """A processor's inputs, applied in arrival order and never while its job runs.

    ``apply(item)`` handles one input (it may submit a job); ``finished(done)`` uses a job's
    result. In a replay the inbox is empty again after every :meth:`drain`; live, inputs wait
    here while the job runs.
    """

    def __init__(
        self,
        jobs: Jobs[T],
        apply: Callable[[tuple[Any, ...]], Awaitable[None]],
        finished: Callable[[Done[T]], Awaitable[None]],
    ) -> None:
        self.jobs = jobs
        self._items: deque[tuple[Any, ...]] = deque()
        self._apply = apply
        self._finished = finished

    def put(self, *item: Any) -> None:
        """Queue one input (its first element names its kind)."""
        self._items.append(item)

    async def run(self, call: Callable[[], T], tag: Any = None) -> None:
        """Submit a job; in a replay its result is used before this returns."""
        done = await self.jobs.submit(call, tag)
        if done is not None:
            await self._finished(done)

    def clear(self) -> None:
        """Forget the inputs not yet applied (a cancel makes them moot)."""
        self._items.clear()

    def later(self, kind: str) -> bool:
        """True when an input of ``kind`` is waiting behind the one being applied."""
        return any(item[0] == kind for item in self._items)

    async def drain(self, wait: bool = False) -> None:
        """Apply what can be applied now. ``wait`` (the end of a call): wait for the job and go
        on until every input is applied."""
        while True:
            if self.jobs.busy:
                done = await self.jobs.wait() if wait else self.jobs.take()
                if done is None:
                    return
                await self._finished(done)
                continue
            if not self._items:
                return
            await self._apply(self._items.popleft())


def record_lag(
    timeline: Timeline, stage: str, asked: float, now: float, done: Done[Any], **extra: Any
) -> None:
    """A ``stage_lag`` event: a live job asked for at media time ``asked`` came back at ``now``."""
    timeline.add(
        "stage_lag",
        now,
        stage=stage,
        asked=round(asked, 3),
        lag_ms=round(1000 * (now - asked), 1),
        compute_ms=round(1000 * done.compute_s, 1),
        **extra,
    )
