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
from typing import Any

import numpy as np

from agent.events import Timeline
from agent.llm.openai_compatible import OpenAIReplies
from agent.llm.reply import ReplySource
from agent.llm.scripted import ScriptedReplies
from agent.lockstep import Lockstep, PipelineFailed
from agent.media import SAMPLE_RATE, db_to_gain
from agent.models import Models
from agent.phone.g711 import TelephoneLine
from agent.pipeline import Core, build
from agent.replay.assemble import Clip, build_clip
from agent.replay.background import background_track
from agent.replay.player import ScenarioPlayer, TruthStep
from agent.replay.scenario import Scenario
from agent.settings import Settings
from agent.tap import AudioTap


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
    heard_pcm: bytes
    """What the listening stages heard (16-bit PCM): the microphone after the echo canceller."""
    bot_audio: np.ndarray
    wall_seconds: float
    compute_seconds: dict[str, float] = field(default_factory=dict)
    context: list[dict[str, Any]] = field(default_factory=list)
    """The conversation as the LLM saw it at the end (interrupted replies: the heard part)."""
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
        tap = AudioTap(enable_direct_mode=True)
        mic, bot = await self._drive(pipeline, tap, player, scenario, limit)
        stopped = None
        if not player.done:
            stopped = f"stopped after {limit:.0f} s of media time: the conversation never settled"
        return ScenarioRun(
            scenario=scenario,
            timeline=timeline,
            truth=player.truth,
            user_audio=mic,
            heard_pcm=tap.pcm,
            bot_audio=bot,
            wall_seconds=time.perf_counter() - began,
            compute_seconds={s.name: round(s.compute_seconds, 3) for s in pipeline.stages},
            context=[dict(m) for m in pipeline.context.get_messages() if isinstance(m, dict)],
            stopped=stopped,
        )

    async def _drive(
        self, pipeline: Core, tap: AudioTap, player: ScenarioPlayer, scenario: Scenario, limit: float
    ) -> tuple[np.ndarray, np.ndarray]:
        n = SAMPLE_RATE * self.settings.replay.chunk_ms // 1000
        dt = n / SAMPLE_RATE
        speaker = pipeline.speaker
        echo_gain = db_to_gain(scenario.echo.level_db) if scenario.echo else 0.0
        echo_delay = scenario.echo.delay_ms / 1000 if scenario.echo else 0.0
        mic: list[np.ndarray] = []
        bot: list[np.ndarray] = []
        line_audio = TelephoneLine() if self.settings.replay.telephone else None
        background = scenario.background or self.settings.replay.background
        noise = background_track(background, scenario, self.models.voice) if background else None
        wall0 = time.perf_counter()
        k = 0
        listening = pipeline.processors.index(pipeline.listener)
        processors = [*pipeline.processors[:listening], tap, *pipeline.processors[listening:]]
        async with Lockstep(processors) as line:
            while not player.done and k * dt < limit:
                t = k * dt
                chunk = player.chunk(t, n, speaker)
                if echo_gain:
                    chunk = chunk + echo_gain * speaker.output(t - echo_delay, t + dt - echo_delay)
                if noise is not None:
                    chunk = chunk + noise.next(n)
                if line_audio is not None:
                    chunk = line_audio(chunk)
                mic.append(chunk)
                try:
                    await line.feed(chunk)
                except PipelineFailed as e:
                    raise ReplayError(f"{scenario.name}: {e}") from None
                bot.append(speaker.output(t, t + dt))
                k += 1
                if self.realtime:
                    await asyncio.sleep(max(0.0, wall0 + k * dt - time.perf_counter()))
        return np.concatenate(mic), np.concatenate(bot)
