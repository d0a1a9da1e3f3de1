"""Replays a scenario through the Pipecat pipeline on the media clock.

The runner is the microphone and the clock. Each tick it asks the :class:`ScenarioPlayer` for the
next chunk of user audio (mixing in the bot's own audio when the scenario has echo), queues it
into the pipeline, and waits until the tick's :class:`MediaClockFrame` has reached the end of the
pipeline (lockstep)::

    tick k:  player.chunk(t_k) ──► VAD ► STT ► turn ► LLM ► TTS ► speaker ──► clock(t_k) reached
             (bot state after tick k-1)                                       │
    tick k+1 ◄────────────────────────────────────────────────────────────────┘

With every processor in direct mode, all the work caused by tick k is done before tick k+1
enters, so the decisions depend on media time only. ``realtime`` only adds sleeps between ticks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import EndFrame, InputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from agent.events import Timeline
from agent.frames import MediaClockFrame
from agent.llm.openai_compatible import OpenAIReplies
from agent.llm.reply import ReplySource
from agent.llm.scripted import ScriptedReplies
from agent.media import SAMPLE_RATE, db_to_gain, to_pcm16
from agent.replay.assemble import Clip, build_clip
from agent.replay.player import ScenarioPlayer, TruthStep
from agent.replay.scenario import Scenario
from agent.settings import Settings
from pipelines.local import LocalPipeline, Models, build

TICK_TIMEOUT_S = 300.0
"""Wall seconds one tick may take before the replay is declared stuck."""


def media_budget(scenario: Scenario, clips: list[Clip]) -> float:
    """Media seconds a scenario may take before it is stopped as a runaway (a bot that keeps
    answering its own echo, say): its audio plus a generous allowance per step for replies."""
    return 30.0 + sum(c.duration for c in clips) + 25.0 * (len(clips) + 1)


class ReplayError(RuntimeError):
    """The pipeline failed or stalled during a replay (one line)."""


@dataclass
class ScenarioRun:
    """Everything one replay produced."""

    scenario: Scenario
    timeline: Timeline
    truth: list[TruthStep]
    user_audio: np.ndarray
    bot_audio: np.ndarray
    wall_seconds: float
    compute_seconds: dict[str, float] = field(default_factory=dict)
    stopped: str | None = None
    """Why the replay was stopped before the scenario ended (None: it ran to the end)."""

    @property
    def audio_seconds(self) -> float:
        return len(self.user_audio) / SAMPLE_RATE


class Replayer:
    """Loads the models once and replays scenarios one after another."""

    def __init__(
        self,
        settings: Settings,
        llm: str = "scripted",
        realtime: bool = False,
        models: Models | None = None,
    ) -> None:
        self.settings = settings
        self.llm = llm
        self.realtime = realtime
        self.models = models or Models.load(settings)

    def clips(self, scenario: Scenario) -> list[Clip]:
        return [
            build_clip(step, scenario, self.models.voice, f"turns.{i}")
            for i, step in enumerate(scenario.turns)
        ]

    def _replies(self, scenario: Scenario) -> ReplySource:
        if self.llm == "openai":
            return OpenAIReplies(self.settings.openai)
        return ScriptedReplies(scenario.replies, self.settings.scripted_llm)

    async def run(self, scenario: Scenario) -> ScenarioRun:
        """Replay one scenario and return its timeline, truth and audio."""
        began = time.perf_counter()
        timeline = Timeline()
        clips = self.clips(scenario)
        player = ScenarioPlayer(scenario, clips)
        pipeline = build(self.models, self.settings, self._replies(scenario), timeline, scenario.greeting)
        limit = min(self.settings.replay.max_seconds, media_budget(scenario, clips))
        mic, bot = await self._drive(pipeline, player, scenario, limit)
        stopped = None
        if not player.done:
            stopped = f"stopped after {limit:.0f} s of media time: the conversation never settled"
        return ScenarioRun(
            scenario=scenario,
            timeline=timeline,
            truth=player.truth,
            user_audio=mic,
            bot_audio=bot,
            wall_seconds=time.perf_counter() - began,
            compute_seconds={s.name: round(s.compute_seconds, 3) for s in pipeline.stages},
            stopped=stopped,
        )

    async def _drive(
        self, pipeline: LocalPipeline, player: ScenarioPlayer, scenario: Scenario, limit: float
    ) -> tuple[np.ndarray, np.ndarray]:
        worker = PipelineWorker(
            Pipeline(pipeline.processors),
            params=PipelineParams(audio_in_sample_rate=SAMPLE_RATE, audio_out_sample_rate=SAMPLE_RATE),
            idle_timeout_secs=None,
            enable_rtvi=False,
            enable_turn_tracking=False,
            check_dangling_tasks=False,
        )
        worker.set_reached_downstream_filter((MediaClockFrame,))
        reached: asyncio.Queue[float | BaseException] = asyncio.Queue()

        async def _reached(_worker: object, frame: MediaClockFrame) -> None:
            reached.put_nowait(frame.t)

        async def _error(_worker: object, frame: object) -> None:
            reached.put_nowait(ReplayError(f"pipeline error: {getattr(frame, 'error', frame)}"))

        worker.add_event_handler("on_frame_reached_downstream", _reached)
        worker.add_event_handler("on_pipeline_error", _error)

        runner = WorkerRunner(handle_sigint=False, check_dangling_tasks=False)
        await runner.add_workers(worker)
        running = asyncio.create_task(runner.run())
        try:
            return await self._ticks(worker, reached, pipeline, player, scenario, limit)
        finally:
            await worker.queue_frame(EndFrame())
            await running

    async def _ticks(
        self,
        worker: PipelineWorker,
        reached: asyncio.Queue[float | BaseException],
        pipeline: LocalPipeline,
        player: ScenarioPlayer,
        scenario: Scenario,
        limit: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = SAMPLE_RATE * self.settings.replay.chunk_ms // 1000
        dt = n / SAMPLE_RATE
        speaker = pipeline.speaker
        echo_gain = db_to_gain(scenario.echo.level_db) if scenario.echo else 0.0
        echo_delay = scenario.echo.delay_ms / 1000 if scenario.echo else 0.0
        mic: list[np.ndarray] = []
        bot: list[np.ndarray] = []
        wall0 = time.perf_counter()
        k = 0
        while not player.done and k * dt < limit:
            t = k * dt
            chunk = player.chunk(t, n, speaker)
            if echo_gain:
                chunk = chunk + echo_gain * speaker.output(t - echo_delay, t + dt - echo_delay)
            mic.append(chunk)
            frame = InputAudioRawFrame(audio=to_pcm16(chunk), sample_rate=SAMPLE_RATE, num_channels=1)
            await worker.queue_frame(frame)
            try:
                got = await asyncio.wait_for(reached.get(), TICK_TIMEOUT_S)
            except TimeoutError:
                raise ReplayError(f"{scenario.name}: pipeline stalled at media time {t:.2f} s") from None
            if isinstance(got, BaseException):
                raise got
            bot.append(speaker.output(t, t + dt))
            k += 1
            if self.realtime:
                await asyncio.sleep(max(0.0, wall0 + k * dt - time.perf_counter()))
        return np.concatenate(mic), np.concatenate(bot)
