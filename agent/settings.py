"""Every knob of the local pipeline, with its unit and default, in one model.

The replay summary prints the settings it ran with (``Settings.model_dump()``).
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.asr.segment_stt import SegmentSttSettings
from agent.asr.streaming import StreamingSettings
from agent.asr.whisper_model import WhisperSettings
from agent.bargein.controller import BargeInSettings
from agent.cloud.assemblyai import AssemblyAISettings
from agent.cloud.deepgram_flux import DeepgramFluxSettings
from agent.cloud.deepgram_nova import DeepgramNovaSettings
from agent.cloud.stt import CloudSttSettings
from agent.echo import EchoSettings
from agent.llm.openai_compatible import OpenAISettings
from agent.llm.scripted import ScriptedLLMSettings
from agent.phone.desk import PhoneSettings
from agent.replay.scenario import Background
from agent.turn.controller import TurnSettings
from agent.turn.detectors import HybridSettings, SilenceSettings, SmartTurnSettings
from agent.vad import VadSettings


class ReplaySettings(BaseModel):
    """How replays feed audio."""

    chunk_ms: int = Field(
        20, ge=10, le=100, multiple_of=10, description="microphone chunk per media tick (ms; whole 10 ms)"
    )
    max_seconds: float = Field(600.0, gt=0, description="longest media time one scenario may run")
    background: Background | None = Field(
        None,
        description="a noise floor under every scenario that has none of its own, e.g. --set "
        "'replay.background={kind: pink, level_db: -45}' (a recording's file: absolute, or "
        "relative to the scenario's folder)",
    )
    telephone: bool = Field(
        False,
        description="the microphone reaches the pipeline as a phone line carries it: 8 kHz G.711 "
        "μ-law, back to 16 kHz (as agent serve hears a Twilio call)",
    )


def _fallback() -> SilenceSettings:
    return SilenceSettings(threshold_s=2.0)  # as the hybrid's max_silence_s


class Settings(BaseModel):
    """The local pipeline: VAD -> Whisper -> end-of-turn -> LLM -> TTS."""

    vad: VadSettings = Field(default_factory=VadSettings)
    asr: Literal["streaming", "segment"] = Field(
        "streaming", description="streaming Whisper with LocalAgreement-2, or one pass per VAD segment"
    )
    whisper: WhisperSettings = Field(default_factory=WhisperSettings)
    streaming: StreamingSettings = Field(default_factory=StreamingSettings)
    segment_stt: SegmentSttSettings = Field(default_factory=SegmentSttSettings)
    stt: str = Field(
        "local",
        pattern=r"^(local|assemblyai|deepgram-nova|deepgram-flux|tape:.+)$",
        description="the recogniser: local Whisper, a cloud provider (its key, or stt_url), or "
        "tape:FILE (a recorded cloud run, replayed)",
    )
    stt_url: str | None = Field(None, description="the cloud provider's websocket URL (an emulator, a proxy)")
    record_tape: str | None = Field(None, description="with a cloud stt: record its events to this file")
    cloud: CloudSttSettings = Field(default_factory=CloudSttSettings)
    assemblyai: AssemblyAISettings = Field(default_factory=AssemblyAISettings)
    deepgram_nova: DeepgramNovaSettings = Field(default_factory=DeepgramNovaSettings)
    deepgram_flux: DeepgramFluxSettings = Field(default_factory=DeepgramFluxSettings)
    detector: Literal["hybrid", "smart-turn", "silence", "native"] = Field(
        "hybrid",
        description="the end-of-turn detector the pipeline acts on (best in eot-eval); native: the "
        "cloud provider's own end of turn",
    )
    hybrid: HybridSettings = Field(default_factory=HybridSettings)
    smart_turn: SmartTurnSettings = Field(default_factory=SmartTurnSettings)
    silence: SilenceSettings = Field(default_factory=SilenceSettings, description="plain silence")
    silence_fallback: SilenceSettings = Field(
        default_factory=_fallback, description="ends the turn when smart-turn never does"
    )
    turn: TurnSettings = Field(default_factory=TurnSettings)
    echo: EchoSettings = Field(default_factory=EchoSettings)
    barge_in: BargeInSettings = Field(default_factory=BargeInSettings)
    scripted_llm: ScriptedLLMSettings = Field(default_factory=ScriptedLLMSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    replay: ReplaySettings = Field(default_factory=ReplaySettings)
    phone: PhoneSettings = Field(default_factory=PhoneSettings)


def with_overrides(settings: Settings, assignments: list[str]) -> Settings:
    """``settings`` with ``section.key=value`` assignments applied (values parsed as YAML).

    Raises ValueError with a one-line message naming the bad assignment.
    """
    data = settings.model_dump()
    for item in assignments:
        key, sep, raw = item.partition("=")
        *path, leaf = key.strip().split(".")
        if not sep or not leaf:
            raise ValueError(f"--set {item!r}: expected section.key=value")
        node = data
        for part in path:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"--set {item!r}: no settings section {part!r}")
            node = node[part]
        if leaf not in node:
            raise ValueError(f"--set {item!r}: no setting {key.strip()!r}")
        try:
            node[leaf] = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or type(e).__name__
            raise ValueError(f"--set {item!r}: the value is not valid YAML ({problem})") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"--set: {where}: {first['msg']}") from None
