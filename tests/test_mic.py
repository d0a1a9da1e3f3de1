"""`agent mic`: the one-line hint where PortAudio is missing, and, where it is installed (the
``[mic]`` extra; ``.ci/run`` installs it after the main suite), the device list and a whole
session through ALSA: its capture device reads a WAV of a scenario's user line (ALSA's ``file``
plugin), its playback device is ALSA's ``null``. No sound card needed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
    ``capture`` (raw 16 kHz 16-bit mono) or ``null``."""
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
    silence = np.zeros(SAMPLE_RATE, np.float32)
    raw = tmp_path / "mic.raw"
    raw.write_bytes(to_pcm16(np.concatenate([silence, said, *[silence] * 12])))
    out = tmp_path / "sessions"
    command = [sys.executable, "-m", "pipelines.cli", "mic", "--scripted-replies", str(SCENARIO)]
    process = subprocess.Popen(
        [*command, "--out", str(out)], cwd=ROOT, env=alsa_home(tmp_path, raw),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while "talking" not in (process.stderr.readline() if process.stderr else ""):
        assert process.poll() is None and time.monotonic() < deadline, "agent mic did not start"
    time.sleep(15)  # ALSA's null device does not pace: this is many seconds of media
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "end of turn" in err  # the status line showed the turn's latencies
    (folder,) = out.iterdir()
    record = json.loads((folder / "timeline.json").read_text())
    turns = [e for e in record["events"] if e["type"] == "turn_end"]
    assert turns and "opening hours" in turns[0]["text"].lower()
    assert any(e["type"] == "bot_audio_start" for e in record["events"])
    assert (folder / "report.html").stat().st_size > 0 and not record["problems"]
