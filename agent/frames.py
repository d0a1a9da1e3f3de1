"""The few frames Pipecat does not have, and media-time stamps on the ones it does.

Our processors exchange Pipecat's own frames (``InputAudioRawFrame``, ``VADUserStartedSpeakingFrame``,
``TranscriptionFrame``, ``LLMTextFrame``, ``TTSAudioRawFrame``, ...). Pipecat stamps some of them
with the wall clock; we put the media time (and the live-call time, see :mod:`agent.latency`) in
``frame.metadata`` instead, with :func:`stamp`, and read it back with :func:`media_time`.

Time moves forward only with :class:`MediaClockFrame`: the VAD processor sends one after each
audio frame, and every time-dependent action (a silence timeout, a scheduled LLM token, bot audio
playout) happens when a processor handles it. All evidence about audio up to ``t`` reaches a
processor before ``MediaClockFrame(t)`` does, so decisions depend on media time only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipecat.frames.frames import DataFrame, Frame, OutputTransportMessageFrame, SystemFrame

_T = "media_t"
_T_LIVE = "live_t"


@dataclass
class MediaClockFrame(SystemFrame):
    """All user audio up to media time ``t`` (seconds) has been received; the tick was ``dt`` long.

    A system frame: never dropped by an interruption and never held back by a stock Pipecat
    processor (an LLM service's speculation gate holds data frames while a reply is held), so
    time keeps moving for everything downstream. Our processors run in direct mode and see it in
    order with the rest.
    """

    t: float = 0.0
    dt: float = 0.0
    interruptible: bool = field(default=False, init=False)


@dataclass
class AsrFlushedFrame(DataFrame):
    """The recogniser's finals now cover all speech up to ``audio_end`` (media seconds).

    Sent after every finalisation, also when it produced no words, so the turn controller knows
    that no final is pending for that audio.
    """

    audio_end: float = 0.0


@dataclass
class RecogniserLinkFrame(DataFrame):
    """A cloud recogniser's link went down (``up`` False: its finals will be late) or came back
    with ``backlog_s`` of audio replayed to the new session, still to be read."""

    up: bool = True
    backlog_s: float = 0.0


@dataclass
class VoiceWindowFrame(SystemFrame):
    """The VAD's speech probability for the window ending at media time ``t`` (``dt`` long)."""

    t: float = 0.0
    dt: float = 0.0
    confidence: float = 0.0


@dataclass
class BotOutputFrame(SystemFrame):
    """Tells the speaker to pause, resume (from the word it was cut at) or cancel the bot's audio."""

    action: Literal["pause", "resume", "cancel"] = "pause"


@dataclass
class NativeTurnFrame(SystemFrame):
    """A cloud provider's own turn event (``kind``: start, eager_end, resumed or end)."""

    kind: str = "end"
    index: int = 0
    confidence: float | None = None


@dataclass
class FalseAlarmFrame(SystemFrame):
    """Sent upstream by barge-in: the user's sound since media time ``onset`` was no turn (a
    backchannel, a noise, an unreadable reading) and the bot went on; drop its words."""

    onset: float = 0.0


@dataclass
class BotHeardFrame(SystemFrame):
    """Sent upstream by the speaker when a reply is cancelled: the words the user heard whole."""

    text: str = ""
    words: tuple[object, ...] = ()


@dataclass
class PlayoutMarkFrame(OutputTransportMessageFrame):
    """Sent by the speaker after the audio of each word it plays on a transport that buffers
    (Twilio): the transport tells back, with :class:`MarkPlayedFrame`, when the audio before it
    has been played to the caller. ``message`` is ``{"mark": name}``."""

    @property
    def mark(self) -> str:
        return str(self.message["mark"])


@dataclass
class MarkPlayedFrame(SystemFrame):
    """The transport played the audio before the mark ``mark`` (Twilio's ``mark`` echo)."""

    mark: str = ""


def stamp(frame: Frame, t: float, t_live: float | None = None) -> Frame:
    """Stamp ``frame`` with its media time and live-call time (defaults to the media time)."""
    frame.metadata[_T] = t
    frame.metadata[_T_LIVE] = max(t, t if t_live is None else t_live)
    return frame


def media_time(frame: Frame) -> float:
    """The media time a frame was stamped with (KeyError if it was not stamped)."""
    return float(frame.metadata[_T])


def live_time(frame: Frame) -> float:
    """The live-call time a frame was stamped with (its media time if none was given)."""
    return float(frame.metadata.get(_T_LIVE, frame.metadata[_T]))
