"""One live conversation over any audio transport: the core between a transport's input and output.

The web demo (WebRTC) and the terminal mic (PortAudio) both run a conversation the same way::

    transport.input() ─► 20 ms frames ─► recorder ─► core (agent.pipeline, LIVE shell) ─► transport.output()

The media clock is the samples the transport delivered, as in a phone call; the speaker answers
each 20 ms of microphone audio with 20 ms of its own, so the bot's voice is paced by the user's
audio. :class:`Conversation` keeps the timeline while it runs (a page or a status line reads it
as it grows) and writes the same ``timeline.json`` and ``report.html`` as a replay when it ends.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipecat.frames.frames import EndFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker, ProcessorUnusablePolicy
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.workers.runner import WorkerRunner

from agent.events import Timeline
from agent.live_status import LiveStatus
from agent.llm.echo import EchoReplies
from agent.llm.openai_compatible import OpenAIReplies
from agent.llm.reply import ReplySource
from agent.llm.scripted import ScriptedReplies
from agent.media import SAMPLE_RATE, write_pcm16
from agent.models import Models
from agent.phone.chunker import FixedChunks
from agent.phone.recorder import CallRecorder
from agent.pipeline import LIVE, Core, build
from agent.replay.scenario import load_scenario
from agent.report.html import render
from agent.settings import Settings

_SCENARIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Responder:
    """Who answers: ``openai``, ``echo`` (offline: says back what it understood) or a scenario's
    agent lines (``scripted``: the replies and greeting of a scenario file, or of the file a
    session names in a folder of them; a session that names none gets the echo)."""

    kind: str
    scenario: Path | None = None
    greeting: str | None = None

    def make(self, settings: Settings, name: str | None = None) -> tuple[ReplySource, str | None]:
        """The replies and greeting of one session (ValueError for a bad scenario ``name``)."""
        if self.kind == "scripted" and self.scenario is not None:
            path = self.scenario
            if path.is_dir():
                if not name:
                    return EchoReplies(settings.scripted_llm), self.greeting
                if not _SCENARIO_NAME.match(name):
                    raise ValueError(f"bad scenario name {name!r}")
                path = path / f"{name}.yaml"
            scenario = load_scenario(path)
            return ScriptedReplies(scenario.replies, settings.scripted_llm), scenario.greeting
        if self.kind == "openai":
            return OpenAIReplies(settings.openai), self.greeting
        return EchoReplies(settings.scripted_llm), self.greeting


@dataclass
class Conversation:
    """One conversation's processors, timeline and view; :meth:`run` drives it to its end."""

    name: str
    core: Core
    timeline: Timeline
    recorder: CallRecorder
    status: LiveStatus = field(default_factory=LiveStatus)
    worker: PipelineWorker | None = None
    ended: bool = False
    problems: list[str] = field(default_factory=list)
    ended_by: str | None = None
    """Why it ended: the person ended it, the browser went away, the transport closed."""
    _seen: int = 0
    _began: float = field(default_factory=time.perf_counter)

    @classmethod
    def create(
        cls, name: str, models: Models, settings: Settings, responder: Responder, scenario: str | None = None
    ) -> Conversation:
        """A conversation with fresh processors (ValueError: ``scenario`` cannot be read)."""
        timeline = Timeline()
        replies, greeting = responder.make(settings, scenario)
        core = build(models, settings, replies, timeline, greeting, shell=LIVE)
        return cls(name, core, timeline, CallRecorder(timeline, enable_direct_mode=True))

    def catch_up(self) -> list[dict[str, Any]]:
        """The events added since the last call, fed to :attr:`status` on the way."""
        new = self.timeline.events[self._seen :]
        self._seen += len(new)
        self.status.feed_all(new)
        self.status.t = max(self.status.t, self.recorder.received / SAMPLE_RATE)  # the media clock
        return new

    async def run(self, source: FrameProcessor, sink: FrameProcessor, settings: Settings) -> None:
        """Runs until :meth:`end` (or the transport's end); the pipeline's errors land in
        :attr:`problems`."""
        chunks = FixedChunks(settings.replay.chunk_ms, enable_direct_mode=True)
        self.worker = PipelineWorker(
            Pipeline([source, chunks, self.recorder, *self.core.processors, sink]),
            params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
            idle_timeout_secs=None,
            processor_unusable_policy=ProcessorUnusablePolicy.CANCEL,  # a device that will not open
            enable_rtvi=False,
            enable_turn_tracking=False,
            check_dangling_tasks=False,
        )

        async def failed(_worker: object, frame: Any) -> None:
            self.problems.append(f"pipeline error: {getattr(frame, 'error', frame)}")
            if getattr(frame, "fatal", False) and self.worker is not None:
                await self.worker.cancel(reason="fatal error")

        self.worker.add_event_handler("on_pipeline_error", failed)
        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(self.worker)
        try:
            await runner.run()
        finally:
            self.ended = True
            self.catch_up()

    async def end(self, why: str) -> None:
        """Ask for the end: the recogniser makes the last words final, then the pipeline stops."""
        self.ended_by = self.ended_by or why
        if self.worker is not None and not self.ended:
            await self.worker.queue_frame(EndFrame())

    def record(self) -> dict[str, Any]:
        """What is kept of the conversation (the ``timeline.json`` a replay or a call writes)."""
        audio_s = self.recorder.received / SAMPLE_RATE
        return {
            "session": self.name,
            "events": self.timeline.sorted_events(),
            "context": [dict(m) for m in self.core.context.get_messages() if isinstance(m, dict)],
            "compute_seconds": {s.name: round(s.compute_seconds, 3) for s in self.core.stages},
            "audio_seconds": round(audio_s, 3),
            "wall_seconds": round(time.perf_counter() - self._began, 3),
            "problems": self.problems,
            "ended_by": self.ended_by,
        }

    def write(self, folder: Path) -> dict[str, Any]:
        """``timeline.json``, ``report.html`` and ``mic.wav`` (what the pipeline heard) in
        ``folder``; returns the record."""
        record = self.record()
        write_record(folder, record, f"live session {self.name}", self.recorder.pcm, self.core)
        return record


def write_record(folder: Path, record: dict[str, Any], title: str, pcm: bytes, core: Core) -> None:
    """A live conversation's files, as a replay writes them (the report has no ground truth)."""
    from agent.media import from_pcm16

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timeline.json").write_text(json.dumps(record, indent=1))
    mic = from_pcm16(pcm)
    bot = core.speaker.output(0.0, len(mic) / SAMPLE_RATE)
    name = folder.name
    page = render(name, title, record["events"], [], mic, bot, {})
    (folder / "report.html").write_text(page, encoding="utf-8")
    write_pcm16(folder / "mic.wav", pcm)
