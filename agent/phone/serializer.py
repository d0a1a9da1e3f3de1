"""Pipecat's Twilio serializer, extended with playback marks and strict input.

Pipecat's ``TwilioFrameSerializer`` turns ``media`` into 16 kHz audio frames, bot audio into 8 kHz
μ-law ``media``, an ``InterruptionFrame`` into ``clear`` and ``dtmf`` into keypad frames. It has no
``mark``, and it lets malformed messages pass with a warning. Here:

- a :class:`~agent.frames.PlayoutMarkFrame` goes out as ``{"event": "mark", "mark": {"name": ...}}``,
  and Twilio's echo of it comes back as a :class:`~agent.frames.MarkPlayedFrame` (Twilio echoes a
  mark when the audio sent before it has been played, and every mark still pending when it
  empties its buffer on a ``clear``);
- a message that is not Media Streams JSON, a second ``start``, or media that is not base64
  μ-law is a protocol error: ``on_error`` is called with one line saying what, and the call ends;
- audio is converted by :mod:`agent.phone.g711` (2 ms of delay, 20 ms in and out) instead of
  Pipecat's soxr stream resampler, which delivers its output in 100 ms lumps.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable

from pipecat.frames.frames import AudioRawFrame, Frame, InputAudioRawFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from agent.frames import MarkPlayedFrame, PlayoutMarkFrame
from agent.media import SAMPLE_RATE, from_pcm16, to_pcm16
from agent.phone.g711 import Downsampler, Upsampler, ulaw_decode, ulaw_encode
from agent.phone.protocol import ProtocolError, decode


class TwilioMarkSerializer(TwilioFrameSerializer):
    """Twilio Media Streams with ``mark`` both ways; protocol errors reported, never ignored."""

    def __init__(self, stream_sid: str, call_sid: str, on_error: Callable[[str], None]) -> None:
        super().__init__(stream_sid, call_sid, params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
        self._sid = stream_sid
        self._on_error = on_error
        self._up = Upsampler()
        self._down = Downsampler()
        self.marks_played = 0

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, PlayoutMarkFrame):
            return json.dumps({"event": "mark", "streamSid": self._sid, "mark": {"name": frame.mark}})
        if isinstance(frame, AudioRawFrame) and frame.sample_rate == SAMPLE_RATE and frame.num_channels == 1:
            ulaw = ulaw_encode(self._down(from_pcm16(frame.audio)))
            payload = base64.b64encode(ulaw).decode()
            return json.dumps({"event": "media", "streamSid": self._sid, "media": {"payload": payload}})
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        try:
            message = decode(data)
            event = message["event"]
            if event == "mark":
                name = (message.get("mark") or {}).get("name")
                if not isinstance(name, str):
                    raise ProtocolError("'mark' message has no mark.name")
                self.marks_played += 1
                return MarkPlayedFrame(mark=name)
            if event == "media":
                payload = (message.get("media") or {}).get("payload")
                if not isinstance(payload, str):
                    raise ProtocolError("'media' message has no media.payload")
                audio = self._up(ulaw_decode(base64.b64decode(payload, validate=True)))
                return InputAudioRawFrame(audio=to_pcm16(audio), sample_rate=SAMPLE_RATE, num_channels=1)
            if event in ("connected", "start"):
                raise ProtocolError(f"a second {event!r} in one stream")
            if event not in ("dtmf", "stop"):
                raise ProtocolError(f"unknown event {event!r}")
        except ProtocolError as e:
            self._on_error(str(e))
            return None
        except binascii.Error as e:
            self._on_error(f"'media' payload is not base64 ({e})")
            return None
        if event == "stop":
            return None
        return await super().deserialize(data)
