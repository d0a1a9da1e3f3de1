"""The core chain of processors, the same in every shell: echo canceller -> Silero VAD -> recogniser
-> end-of-turn -> barge-in -> LLM -> Piper -> speaker.

``build`` wires fresh processors around already-loaded models (:class:`~agent.models.Models`), for
one conversation. A :class:`Shell` says how the chain is driven; the decisions are the same::

    replay:  scenario audio ─► Lockstep.feed ─► core ─► speaker track (timeline, report)
    phone:   transport in (μ-law 8 kHz -> 16 kHz) ─► core ─► speaker ─► 20 ms frames + marks ─►
             transport out          (Whisper, smart-turn and Piper in their stages' threads)
    web/mic: WebRTC or PortAudio in ─► core ─► speaker ─► 20 ms frames ─► transport out

In both, the core's processors run in Pipecat's direct mode: a frame goes through the whole chain
before the next one enters, so every processor sees evidence and the media clock in the order the
audio produced them (Pipecat's queued mode lets system frames overtake data frames in each
processor, which would let a decision depend on task scheduling). Live, nothing in the chain
waits for a model: slow calls run off the event loop (:mod:`agent.offload`) and their results
enter the chain at the first frame after they are ready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameProcessor

from agent.asr.segment_stt import SegmentSTTProcessor
from agent.asr.streaming import StreamingRecognizer
from agent.asr.streaming_stt import StreamingSTTProcessor
from agent.bargein.processor import BargeInProcessor
from agent.cloud.assemblyai import AssemblyAIProvider
from agent.cloud.deepgram_flux import DeepgramFluxProvider
from agent.cloud.deepgram_nova import DeepgramNovaProvider
from agent.cloud.provider import Provider
from agent.cloud.stt import CloudSTTProcessor
from agent.cloud.tape import TapeProvider, TapeWriter, load_tape
from agent.echo import EchoCanceller, EchoCancelProcessor, EchoPathDetector
from agent.events import Timeline
from agent.latency import Stage
from agent.llm.reply import LLMProcessor, ReplySource
from agent.models import Models
from agent.settings import Settings
from agent.speaker import SpeakerProcessor
from agent.tts.processor import TTSProcessor
from agent.turn.detectors import (
    Detector,
    HybridDetector,
    SilenceDetector,
    SmartTurnDetector,
    offset_score,
)
from agent.turn.native import NativeDetector
from agent.turn.processor import TurnProcessor
from agent.vad import SileroVoice, VADProcessor


@dataclass(frozen=True)
class Shell:
    """How the core is driven.

    ``live``: model calls run off the event loop and their results come when ready (a replay
    waits for each). ``output``: the speaker sends its audio on to a transport, and an
    interruption on a cancel. ``marks``: the transport reports what it played.
    """

    live: bool = False
    output: bool = False
    marks: bool = False


REPLAY = Shell()
PHONE = Shell(live=True, output=True, marks=True)
LIVE = Shell(live=True, output=True)
"""A transport that plays what it is sent as it comes (WebRTC, a sound card): a word counts as
heard once the speaker has sent it."""


def detectors(models: Models, settings: Settings) -> list[Detector]:
    """The end-of-turn detectors for ``settings.detector`` (smart-turn gets a silence fallback;
    the hybrid has its own)."""
    score = offset_score(models.smart_turn.probability, settings.smart_turn.score_offset)
    if settings.detector == "native":
        return [NativeDetector(), SilenceDetector(settings.silence_fallback, name="silence-fallback")]
    if settings.detector == "hybrid":
        return [HybridDetector(score, settings.hybrid)]
    if settings.detector == "silence":
        return [SilenceDetector(settings.silence)]
    return [
        SmartTurnDetector(score, settings.smart_turn),
        SilenceDetector(settings.silence_fallback, name="silence-fallback"),
    ]


def cloud_stt(settings: Settings, timeline: Timeline) -> CloudSTTProcessor:
    """The cloud recogniser ``settings.stt`` names (a provider, or ``tape:FILE``)."""
    cloud = settings.cloud.model_copy(update={"finalize_on_vad_stop": settings.detector != "native"})
    connect: Callable[[], Provider]
    if settings.stt.startswith("tape:"):
        records = load_tape(Path(settings.stt.removeprefix("tape:")))
        connect = partial(TapeProvider, records)
    elif settings.stt == "deepgram-nova":
        connect = partial(DeepgramNovaProvider, settings.deepgram_nova, settings.stt_url)
    elif settings.stt == "deepgram-flux":
        connect = partial(DeepgramFluxProvider, settings.deepgram_flux, settings.stt_url)
    else:
        connect = partial(AssemblyAIProvider, settings.assemblyai, settings.stt_url)
    tape = TapeWriter(Path(settings.record_tape)) if settings.record_tape else None
    return CloudSTTProcessor(connect, cloud, timeline, tape, enable_direct_mode=True)


@dataclass
class Core:
    """The processors in order, plus the handles a shell needs."""

    processors: list[FrameProcessor]
    speaker: SpeakerProcessor
    stages: list[Stage]
    context: LLMContext
    listener: FrameProcessor
    """The first stage that listens (the VAD): what reaches it is what the pipeline heard."""


def build(
    models: Models,
    settings: Settings,
    replies: ReplySource,
    timeline: Timeline,
    greeting: str | None = None,
    shell: Shell = REPLAY,
) -> Core:
    """Fresh processors for one conversation (ValueError if ``settings`` cannot run live)."""
    mode = {"enable_direct_mode": True}
    live = shell.live
    context = LLMContext()
    vad = VADProcessor(SileroVoice(), settings.vad, timeline, **mode)
    stt: SegmentSTTProcessor | StreamingSTTProcessor | CloudSTTProcessor
    if settings.stt != "local":
        stt = cloud_stt(settings, timeline)
    elif settings.asr == "streaming":
        recognizer = StreamingRecognizer(
            models.whisper.decode_window,
            settings.streaming,
            models.whisper.final_decoder(settings.streaming.flush_beam_size),
        )
        stt = StreamingSTTProcessor(recognizer, timeline, live=live, **mode)
    elif live:
        raise ValueError("asr=segment runs in replays only: a live call needs asr=streaming")
    else:
        stt = SegmentSTTProcessor(models.whisper, settings.segment_stt, timeline, **mode)
    turn = TurnProcessor(
        detectors(models, settings),
        settings.turn,
        context,
        timeline,
        voice_confidence=settings.vad.confidence,
        live=live,
        **mode,
    )
    barge_in = BargeInProcessor(settings.barge_in, context, timeline, **mode)
    llm = LLMProcessor(replies, context, timeline, greeting=greeting, live=live, **mode)
    tts = TTSProcessor(models.voice, timeline, live=live, **mode)
    speaker = SpeakerProcessor(timeline, output=shell.output, marks=shell.marks, **mode)
    processors: list[FrameProcessor] = [vad, stt, turn, barge_in, llm, tts, speaker]
    stages = [vad.stage, stt.stage, turn.stage, tts.stage]
    if settings.echo.enabled:
        canceller = EchoCanceller(settings.echo)
        echo = EchoCancelProcessor(
            canceller, EchoPathDetector(settings.echo), speaker.output, settings.echo.tail_s, **mode
        )
        processors.insert(0, echo)
        stages.insert(0, echo.stage)
    for stage in stages:
        stage.live = live  # live, the lag is in the media time itself
    return Core(processors, speaker, stages, context, listener=vad)
