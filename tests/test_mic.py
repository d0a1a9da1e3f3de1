"""`agent mic`: the one-line hint where PortAudio is missing, and, where it is installed (the
``[mic]`` extra; ``.ci/run`` installs it after the main suite), the device list and a whole
session through ALSA: its capture device is ALSA's ``file`` plugin reading a scenario's user line
in real time from a named pipe (:class:`PacedMicrophone`), its playback device is ALSA's
``null``. No sound card needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT

SCENARIO = ROOT / "scenarios" / "11_barge_in.yaml"

NO_PYAUDIO = """
import sys
sys.modules["pyaudio"] = None  # as on a machine where PyAudio (PortAudio) is not installed
from pipelines.cli import main
sys.exit(main(["mic", "--list-devices"]))
"""


def test_without_portaudio_one_line_says_how_to_install_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_PYAUDIO], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agent mic: "), done.stderr
    assert "apt-get install portaudio19-dev" in lines[0] and ".[mic]" in lines[0]


def alsa_home(tmp_path: Path, capture: Path | None) -> dict[str, str]:
    """An environment whose ALSA default device is ``null`` for playback and, for capture,
    ``capture`` (raw 16 kHz 16-bit mono: a named pipe, see :class:`PacedMicrophone`) or ``null``."""
    source = (
        f'{{ type plug; slave {{ pcm {{ type file; slave.pcm "null"; file "/dev/null"; '
        f'infile "{capture}"; format "raw" }}; format S16_LE; rate 16000; channels 1 }} }}'
        if capture
        else '"plug:null"'
    )
    (tmp_path / ".asoundrc").write_text(
        f'pcm.!default {{ type asym; playback.pcm "plug:null"; capture.pcm {source} }}\n'
    )
    return {**os.environ, "HOME": str(tmp_path)}


class PacedMicrophone:
    """A capture device that delivers audio in real time, as a microphone does.

    ALSA's ``null`` device is not paced: over a plain file, the ``file`` plugin hands the whole
    recording to the reader within milliseconds of opening (thousands of seconds of audio a
    second), so whether the words reached the pipeline depended on its start-up timing under
    load. Its ``infile`` here is a named pipe that a thread fills with 20 ms of audio every 20 ms
    (silence until :meth:`say`): reads wait for it, so the device runs at the speed of speech.
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self._pipe = os.open(path, os.O_RDWR)  # a writer from the start: ALSA's open never waits
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def say(self, pcm: bytes) -> float:
        """Queue ``pcm`` (16 kHz 16-bit mono); returns its length in seconds."""
        step = 640
        with self._lock:
            self._pending += [pcm[i : i + step].ljust(step, b"\0") for i in range(0, len(pcm), step)]
        return len(pcm) / 32000

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        os.close(self._pipe)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                chunk = self._pending.pop(0) if self._pending else bytes(640)
            os.write(self._pipe, chunk)  # waits while the pipe is full (nobody reading yet)
            now = time.monotonic()
            due = max(due + 0.02, now)  # and a wait is not made up for by a burst
            time.sleep(due - now)


def test_devices_are_listed_where_portaudio_is(tmp_path: Path) -> None:
    pytest.importorskip("pyaudio", reason="the [mic] extra is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "mic", "--list-devices"],
        cwd=ROOT, env=alsa_home(tmp_path, None), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("1 sound devices (default input 0, default output 0)")
    assert "default" in done.stdout
    assert "ALSA lib" not in done.stderr  # PortAudio's probing noise is kept from the user


def test_a_session_through_the_sound_card_is_answered(tmp_path: Path, voice) -> None:
    pytest.importorskip("pyaudio", reason="the [mic] extra is not installed")
    from agent.media import SAMPLE_RATE, to_pcm16
    from agent.replay.assemble import text_clip

    said = text_clip("Can you tell me about your opening hours?", voice, "user").audio
    mic = PacedMicrophone(tmp_path / "mic.fifo")
    out = tmp_path / "sessions"
    command = [sys.executable, "-m", "pipelines.cli", "mic", "--scripted-replies", str(SCENARIO)]
    try:
        process = subprocess.Popen(
            [*command, "--out", str(out)], cwd=ROOT, env=alsa_home(tmp_path, mic.path),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "talking" not in (process.stderr.readline() if process.stderr else ""):
            assert process.poll() is None and time.monotonic() < deadline, "agent mic did not start"
        seconds = mic.say(to_pcm16(np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), said])))
        time.sleep(seconds + 6)  # the words, the end of the turn and the start of the reply
        process.send_signal(signal.SIGINT)
    finally:
        mic.close()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "end of turn" in err  # the status line showed the turn's latencies
    (folder,) = out.iterdir()
    record = json.loads((folder / "timeline.json").read_text())
    turns = [e for e in record["events"] if e["type"] == "turn_end"]
    assert turns and "opening hours" in turns[0]["text"].lower()
    assert any(e["type"] == "bot_audio_start" for e in record["events"])
    assert (folder / "report.html").stat().st_size > 0 and not record["problems"]
