"""``agent mic``: talk to the bot from a terminal, through Pipecat's local audio transport (PyAudio).

::

    sound card in (16 kHz) ─► core (echo canceller, VAD, Whisper, end of turn, ...) ─► sound card out
                                       ▲ reference: the speaker's own output track

Without headphones the bot's voice comes back through the microphone; the echo canceller in the
core takes the speaker's output track as its reference, so the bot does not take its own voice
for a barge-in. A status line on stderr shows the turn state, the finals and the partial (in
brackets), and the last turn's latencies; Ctrl-C ends the session and writes its report.

PortAudio is a system library: the ``[mic]`` extra (PyAudio) builds against it, and the default
install never needs it. Where it is missing, :func:`portaudio_or_hint` says how to get it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.media import SAMPLE_RATE
from agent.models import Models
from agent.settings import Settings
from pipelines.live import Conversation, Responder

_STATUS_EVERY_S = 0.2


def install_hint() -> str:
    """How to get PortAudio and PyAudio on this platform, in one line."""
    system = platform.system()
    if system == "Darwin":
        first = "brew install portaudio"
    elif system == "Windows":
        first = "(PyAudio's Windows wheels carry PortAudio)"
    else:
        first = "sudo apt-get install portaudio19-dev (Debian/Ubuntu; dnf install portaudio-devel on Fedora)"
    return f"{first}, then pip install -c constraints.txt -e '.[mic]'"


def portaudio_or_hint() -> str | None:
    """None when PyAudio (and the PortAudio it links) loads, else one line saying what to install."""
    try:
        import pyaudio  # noqa: F401
    except ImportError as e:
        return f"PortAudio/PyAudio is not available ({e}): {install_hint()}"
    return None


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """ALSA and JACK print a page of probing errors on stderr while PortAudio looks for devices;
    none of it concerns the user, so the process's stderr is closed to them for that moment."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def list_devices() -> str:
    """The sound devices PortAudio sees: index, name, input and output channels, default rate."""
    import pyaudio

    with _quiet_native_stderr():
        audio = pyaudio.PyAudio()
    try:
        rows = []
        for i in range(audio.get_device_count()):
            info = audio.get_device_info_by_index(i)
            rows.append(
                f"{i:3d}  {info['name']}  (in {info['maxInputChannels']}, out {info['maxOutputChannels']}, "
                f"{info['defaultSampleRate']:.0f} Hz)"
            )
        default_in = _default(audio.get_default_input_device_info)
        default_out = _default(audio.get_default_output_device_info)
    finally:
        audio.terminate()
    head = f"{len(rows)} sound devices (default input {default_in}, default output {default_out}):"
    return "\n".join([head, *rows]) if rows else "no sound devices found"


def _default(read: Any) -> str:
    try:
        return str(read()["index"])
    except OSError:  # PortAudio has no default device of that kind
        return "none"


@dataclass(frozen=True)
class MicOptions:
    input_device: int | None
    output_device: int | None
    out: Path
    responder: Responder


def talk(models: Models, settings: Settings, options: MicOptions) -> int:
    """One conversation through the sound card until Ctrl-C; writes its files; exit code 0, or 1
    when the pipeline failed (a device that would not open, say: each problem in one line)."""
    return asyncio.run(_talk(models, settings, options))


async def _talk(models: Models, settings: Settings, options: MicOptions) -> int:
    from pipecat.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams

    name = datetime.now().strftime("%Y%m%d-%H%M%S")
    conversation = Conversation.create(name, models, settings, options.responder)
    with _quiet_native_stderr():
        transport = LocalAudioTransport(
            LocalAudioTransportParams(
                audio_in_enabled=True,
                audio_out_enabled=True,
                audio_in_sample_rate=SAMPLE_RATE,
                audio_out_sample_rate=SAMPLE_RATE,
                audio_out_10ms_chunks=2,
                input_device_index=options.input_device,
                output_device_index=options.output_device,
            )
        )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(conversation.end("Ctrl-C")))
    print("agent mic: talking; Ctrl-C ends the session", file=sys.stderr, flush=True)
    status = asyncio.create_task(_status_line(conversation))
    try:
        await conversation.run(transport.input(), transport.output(), settings)
    finally:
        status.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await status
    folder = options.out / name
    conversation.write(folder)
    print(f"\nagent mic: session written to {folder}/ (report.html, timeline.json)", file=sys.stderr)
    for problem in conversation.problems:  # e.g. a device that cannot be opened
        print(f"agent mic: {problem} (agent mic --list-devices shows the devices)", file=sys.stderr)
    return 1 if conversation.problems else 0


async def _status_line(conversation: Conversation) -> None:
    """Redraws the status line on stderr while the conversation runs."""
    shown = ""
    while True:
        conversation.catch_up()
        line = conversation.status.line()
        if line != shown:
            sys.stderr.write("\r\033[K" + line[:200])
            sys.stderr.flush()
            shown = line
        await asyncio.sleep(_STATUS_EVERY_S)
