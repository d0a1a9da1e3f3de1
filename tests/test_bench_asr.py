"""``agent bench asr`` on a small synthesised recording, with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from agent.bench.asr import edit_distance, normalize, wer
from pipelines.cli import main

TEXT = "The pharmacy on Main Street opens at nine tomorrow morning. It closes at six in the evening."


def test_wer_helpers() -> None:
    assert normalize("Hello, World! It's well-known.") == ["hello", "world", "it's", "well", "known"]
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert wer("a b c d", "a b c d") == 0.0
    assert wer("", "anything") is None


def test_bench_reports_wer_latency_speed_and_no_revisions(voice, tmp_path: Path, capsys) -> None:
    audio = voice.synthesize(TEXT).audio
    sf.write(tmp_path / "clinic.wav", np.concatenate([np.zeros(8000), audio]), 16000)
    out = tmp_path / "bench.json"
    assert main(["bench", "asr", str(tmp_path / "clinic.wav"), "--ref", TEXT, "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    o = figures["overall"]
    assert set(o) >= {"wer", "batch_wer", "final_latency_ms", "rtf", "revisions", "peak_rss_mb"}
    assert o["revisions"] == 0
    assert o["wer"] is not None and o["wer"] <= 0.2
    assert o["batch_wer"] is not None
    [f] = figures["files"].values()
    assert o["final_latency_ms"]["count"] == f["words"] > 10
    assert o["final_latency_ms"]["p50"] > 0  # a word is final only after it was spoken
    assert 0 < o["rtf"] < 5
    assert figures["settings"]["streaming"]["chunk_s"] > 0
    assert json.loads(capsys.readouterr().out)["revisions"] == 0


def test_bench_refuses_one_ref_for_several_files(tmp_path: Path, capsys) -> None:
    assert main(["bench", "asr", "a.wav", "b.wav", "--ref", "x"]) == 2
    assert "single file" in capsys.readouterr().err


def test_bench_unreadable_audio_is_one_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.wav").write_bytes(b"nope")
    assert main(["bench", "asr", str(tmp_path / "bad.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot decode" in err[0]
