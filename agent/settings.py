"""Every knob of the local pipeline, with its unit and default, in one model.

The replay summary prints the settings it ran with (``Settings.model_dump()``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent.asr.segment_stt import SegmentSttSettings
from agent.asr.streaming import StreamingSettings
from agent.asr.whisper_model import WhisperSettings
from agent.llm.openai_compatible import OpenAISettings
from agent.llm.scripted import ScriptedLLMSettings
from agent.turn.controller import TurnSettings
from agent.turn.detectors import HybridSettings, SilenceSettings, SmartTurnSettings
from agent.vad import VadSettings


class ReplaySettings(BaseModel):
    """How replays feed audio."""

    chunk_ms: int = Field(20, ge=10, le=100, description="microphone chunk per media tick (ms)")
    max_seconds: float = Field(600.0, gt=0, description="longest media time one scenario may run")


def _fallback() -> SilenceSettings:
    return SilenceSettings(threshold_s=2.5)


class Settings(BaseModel):
    """The local pipeline: VAD -> Whisper -> end-of-turn -> LLM -> TTS."""

    vad: VadSettings = Field(default_factory=VadSettings)
    asr: Literal["streaming", "segment"] = Field(
        "streaming", description="streaming Whisper with LocalAgreement-2, or one pass per VAD segment"
    )
    whisper: WhisperSettings = Field(default_factory=WhisperSettings)
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    segment_stt: SegmentSttSettings = Field(default_factory=SegmentSttSettings)
    detector: Literal["hybrid", "smart-turn", "silence"] = Field(
        "hybrid", description="the end-of-turn detector the pipeline acts on (best in eot-eval)"
    )
    hybrid: HybridSettings = Field(default_factory=HybridSettings)
    smart_turn: SmartTurnSettings = Field(default_factory=SmartTurnSettings)
    silence: SilenceSettings = Field(default_factory=SilenceSettings, description="plain silence")
    silence_fallback: SilenceSettings = Field(
        default_factory=_fallback, description="ends the turn when smart-turn never does"
    )
    turn: TurnSettings = Field(default_factory=TurnSettings)
    scripted_llm: ScriptedLLMSettings = Field(default_factory=ScriptedLLMSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
