"""Bad command lines and interrupted runs: one clear line naming the culprit, the right exit code,
no traceback, and nothing already computed lost. Options are checked before any model loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import ROOT

SCENARIO = "turns:\n  - user: Hello there.\n    agent: Hi.\n"


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--chunk-ms", "0"], "--chunk-ms 0: Input should be greater than or equal to 10"),
        (["--chunk-ms", "-20"], "--chunk-ms -20: Input should be greater than or equal to 10"),
        (["--chunk-ms", "25"], "--chunk-ms 25: Input should be a multiple of 10"),
        (["--set", "streaming.chunk_s=[1"], "--set 'streaming.chunk_s=[1': the value is not valid YAML"),
        (["--set", "streaming.chunk_s=-5"], "--set: streaming.chunk_s: Input should be greater than 0"),
        (["--set", "streaming.over_bot_chunk_s=0"], "streaming.over_bot_chunk_s: Input should be greater"),
        (["--set", "nosuch.key=1"], "--set 'nosuch.key=1': no settings section 'nosuch'"),
        (["--set", "replay.chunk_ms"], "expected section.key=value"),
        (["--stt", "whisperx"], "--stt whisperx: expected local, assemblyai, deepgram-nova, deepgram-flux"),
        (["--stt", "tape:missing.jsonl"], "--stt tape:missing.jsonl: tape file not found: missing.jsonl"),
        (["--record-tape", "t.jsonl"], "--record-tape records a cloud recogniser"),
        (["--out", "/proc/x"], "--out /proc/x: cannot write there"),
    ],
)
def test_a_bad_option_is_one_line_naming_it_and_exit_2(
    option: list[str], says: str, write, tmp_path: Path, capsys
) -> None:
    path = write("one.yaml", SCENARIO)
    args = ["replay", str(path), "--out", str(tmp_path / "out"), *option]
    began = time.perf_counter()
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("agent: ")
    assert says in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / "out" / "summary.json").exists()
    assert time.perf_counter() - began < 30  # refused before any model loaded (bounded, generous)


def test_an_out_that_is_a_file_is_refused_before_the_replay(write, tmp_path: Path, capsys) -> None:
    path = write("one.yaml", SCENARIO)
    file = write("taken", "a file")
    assert main(["replay", str(path), "--out", str(file)]) == 2
    err = capsys.readouterr().err
    assert err == f"agent: --out {file}: cannot write there (File exists)\n"


def test_version_and_help_answer_without_loading_pipecat() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    version = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--version"], capture_output=True, text=True, env=env
    )
    assert version.returncode == 0 and version.stdout.startswith("agent ")
    helped = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--help"], capture_output=True, text=True, env=env
    )
    assert helped.returncode == 0 and "replay" in helped.stdout
    assert helped.stderr == ""  # no banner, no log line before our own output
    probe = (
        "import sys; from pipelines.parsers import build_parser; build_parser(); "
        "print(sorted(m for m in ('pipecat', 'numpy', 'onnxruntime', 'ctranslate2') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
    assert loaded.stdout.strip() == "[]"


def test_a_scenario_whose_output_cannot_be_written_loses_no_other(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "sc"
    folder.mkdir()
    for name in ("a_first", "b_blocked", "c_last"):
        (folder / f"{name}.yaml").write_text(SCENARIO)
    out = tmp_path / "out"
    out.mkdir()
    (out / "b_blocked").write_text("in the way")  # its folder cannot be made
    assert main(["replay", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "b_blocked" in err and "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["scenarios"]) == ["a_first", "c_last"]
    assert (out / "c_last" / "report.html").is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_folder_replay_keeps_what_finished(sig: int, tmp_path: Path) -> None:
    """Ctrl-C or SIGTERM once the first scenario is written: exit 130 within seconds, one line,
    and summary.json holds the finished scenarios and names the others."""
    folder = tmp_path / "sc"
    folder.mkdir()
    for k in range(6):
        (folder / f"s{k}.yaml").write_text(SCENARIO)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "replay", str(folder), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 240
    while not (out / "s0" / "report.html").exists() and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Report:" not in stdout
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"agent: interrupted; {out}/summary.json holds the ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["interrupted"] is True
    assert "s0" in summary["scenarios"] and "s5" in summary["overall"]["not_run"]
    assert set(summary["scenarios"]) | set(summary["overall"]["not_run"]) == {f"s{k}" for k in range(6)}


def _noise_wav(path: Path, seconds: float = 1.0) -> bytes:
    import numpy as np
    import soundfile as sf

    noise = (np.random.default_rng(0).standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    sf.write(path, noise, 16000, subtype="PCM_16")
    return path.read_bytes()


def test_recordings_outside_the_scenario_folder_are_refused_unless_allowed(tmp_path: Path, capsys) -> None:
    from agent.replay.scenario import ScenarioError, load_scenario

    _noise_wav(tmp_path / "elsewhere.wav")
    folder = tmp_path / "sc"
    folder.mkdir()
    path = folder / "reads_out.yaml"
    path.write_text("turns:\n  - audio: ../elsewhere.wav\n")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert str(refused.value) == (
        f"{path}: turns.0.audio: ../elsewhere.wav is outside the scenario's folder "
        "(agent replay --allow-outside-audio reads it)"
    )
    assert load_scenario(path, allow_outside_audio=True).turns[0].audio == "../elsewhere.wav"
    path.write_text("turns:\n  - user: Hi.\nbackground: {kind: recording, file: /etc/passwd}\n")
    with pytest.raises(ScenarioError, match=r"background\.file: /etc/passwd is outside"):
        load_scenario(path)
    assert main(["replay", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "is outside the scenario's folder" in capsys.readouterr().err


def test_a_symlink_loop_names_the_scenario_and_field(tmp_path: Path) -> None:
    from agent.replay.scenario import ScenarioError, load_scenario

    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    path = tmp_path / "loop.yaml"
    path.write_text("turns:\n  - audio: a.wav\n")
    with pytest.raises(
        ScenarioError, match=r"loop\.yaml: turns\.0\.audio: (cannot follow a\.wav|file not found)"
    ):
        load_scenario(path)


def test_a_wav_cut_short_is_refused_before_the_replay(tmp_path: Path) -> None:
    from agent.media import AudioError, load_audio
    from agent.replay.scenario import ScenarioError, load_scenario

    whole = _noise_wav(tmp_path / "whole.wav")
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    assert len(load_audio(tmp_path / "whole.wav")) == 16000
    with pytest.raises(
        AudioError, match=r"cut\.wav: audio file is truncated: its header promises 32000 bytes"
    ):
        load_audio(tmp_path / "cut.wav")
    path = tmp_path / "cut.yaml"
    path.write_text("turns:\n  - audio: cut.wav\n")
    with pytest.raises(ScenarioError, match=r"cut\.yaml: turns\.0\.audio: .*cut\.wav is truncated"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"turns:\n  - user: {'word ' * 4000}\n", "turns.0.user: String should have at most 2000 characters"),
        ("turns:\n" + "  - user: Yes.\n" * 5000, "turns: List should have at most 200 items"),
        (
            "turns:\n" + f"  - user: {'word ' * 390}\n" * 5,
            "(top level): turns: 9745 characters of user text in all, over the limit of 8000",
        ),
        (f"greeting: {'Hello ' * 400}\nturns:\n  - user: Hi.\n", "greeting: String should have at most 2000"),
    ],
)
def test_scenario_limits_refuse_at_once_naming_the_field_and_limit(
    text: str, says: str, write, tmp_path: Path, capsys
) -> None:
    path = write("big.yaml", text)
    began = time.perf_counter()
    assert main(["replay", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"agent: {path}: {says}" in err
    assert time.perf_counter() - began < 30


def test_a_long_sentence_is_spoken_in_pieces_with_every_word(voice) -> None:
    from agent.tts.piper_voice import MAX_PIECE, _pieces

    words = " ".join(f"number {k}" for k in range(150))  # 1,390 characters and no full stop
    pieces = _pieces(words)
    assert len(pieces) == 4 and all(len(p) <= MAX_PIECE for p in pieces)
    assert " ".join(pieces).split() == words.split()
    assert _pieces("Short. Two sentences.") == ["Short. Two sentences."]
    spoken = voice.synthesize(words)
    assert len(spoken.words) == 300
    assert [w.start for w in spoken.words] == sorted(w.start for w in spoken.words)


def test_long_work_reports_progress_in_a_log() -> None:
    import io

    from agent.progress import Progress

    log = io.StringIO()  # not a terminal: plain lines
    progress = Progress("bench asr: long.wav streaming", 600, "s of audio", log, every_s=0.0)
    for done in (60, 300, 600):
        progress.update_to(done)
    progress.close()
    lines = log.getvalue().splitlines()
    assert lines[:3] == [
        "bench asr: long.wav streaming: 60 / 600 s of audio (10 %)",
        "bench asr: long.wav streaming: 300 / 600 s of audio (50 %)",
        "bench asr: long.wav streaming: 600 / 600 s of audio (100 %)",
    ]
    quiet = io.StringIO()
    slow = Progress("eot-eval: pauses scored", 10, "pauses", quiet, every_s=3600.0)
    slow.update_to(5)
    assert quiet.getvalue() == ""  # at most one line per every_s


def test_the_log_is_json_lines_naming_the_scenario_and_never_a_key(monkeypatch, capsys) -> None:
    from loguru import logger

    from agent import logs

    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-secret-123")
    logs.setup("json")
    try:
        with logs.about(scenario="03_hesitation_long"):
            logger.warning("connect with key dg-secret-123 failed")
        logger.bind(call="CA123").error("the call failed")
        logger.info("below the level: not shown")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
        assert [(x["level"], x["message"]) for x in lines] == [
            ("WARNING", "connect with key *** failed"),
            ("ERROR", "the call failed"),
        ]
        assert lines[0]["scenario"] == "03_hesitation_long" and lines[1]["call"] == "CA123"
        assert lines[0]["time"].endswith("Z")
        logs.setup("text")
        with logs.about(scenario="s1"):
            logger.warning("plain dg-secret-123")
        assert capsys.readouterr().err.endswith(" WARNING scenario=s1: plain ***\n")
    finally:
        logs.setup("text")


def test_bench_asr_on_a_long_silent_file_shows_progress_and_finishes(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 60, np.float32), 16000, subtype="PCM_16")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "bench", "asr", str(silent)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "bench asr: silent.wav streaming: 60 / 60 s of audio (100 %)" in done.stderr
    assert "bench asr: silent.wav batch: " in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["eot-eval", "m.jsonl", "--json", "/proc/x/y.json"],
            "--json /proc/x/y.json: cannot write there (No such file or directory)",
        ),
        (["bench", "asr", "a.wav", "--json", "{tmp}"], "--json {tmp}: is a folder, not a file"),
        (["compare", "scenarios", "--out", "{file}"], "--out {file}: cannot write there (File exists)"),
        (["room-tone", "a.wav", "--out", "{tmp}"], "--out {tmp}: is a folder, not a file"),
        (
            ["bench", "pipeline", "--json", "/proc/x/y.json"],
            "--json /proc/x/y.json: cannot write there (No such file or directory)",
        ),
    ],
)
def test_every_command_checks_where_it_will_write_first(
    args: list[str], says: str, tmp_path: Path, capsys
) -> None:
    file = tmp_path / "taken"
    file.write_text("a file")
    fill = {"tmp": str(tmp_path), "file": str(file)}
    began = time.perf_counter()
    assert main([a.format(**fill) for a in args]) == 2
    err = capsys.readouterr().err
    assert err == f"agent: {says.format(**fill)}\n"
    assert time.perf_counter() - began < 5  # nothing was loaded or run first


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["web", "--port", "0"], "agent web: --port must be 1-65535, got 0"),
        (["web", "--max-sessions", "0"], "agent web: --max-sessions must be at least 1, got 0"),
        (["web", "--scripted-replies", "no.yaml"], "--scripted-replies no.yaml: no such scenario file"),
        (["web", "--stt", "whisperx"], "agent web: --stt whisperx: expected local"),
        (["web", "--set", "asr=segment"], "talking live needs the streaming recogniser"),
        (["mic", "--stt", "deepgram-flux"], "--stt deepgram-flux needs DEEPGRAM_API_KEY"),
    ],
)
def test_a_bad_live_option_is_one_line_and_exit_2(
    args: list[str], says: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPGRAM_API_KEY", raising=False)
    began = time.perf_counter()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and "Traceback" not in err, err
    assert time.perf_counter() - began < 30  # before any model loads


def test_a_malformed_scenario_for_scripted_replies_is_named(write, capsys) -> None:
    path = write("bad.yaml", "turns: []\n")
    assert main(["web", "--scripted-replies", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agent web: ") and err.count("\n") == 1 and "turns" in err, err


def test_agent_web_on_a_port_in_use_says_so_before_loading_models(capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        began = time.perf_counter()
        assert main(["web", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"agent web: --port {port}: cannot listen on 127.0.0.1:{port} (Address already in use)\n"
    assert time.perf_counter() - began < 30
