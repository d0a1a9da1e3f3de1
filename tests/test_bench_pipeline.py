"""``agent bench pipeline``: its figures from a summary, the staged copies, and a real run against
a baseline worktree (HEAD: the same code, so the same decisions)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from agent.bench.pipeline import figures, stage

ROOT = Path(__file__).resolve().parent.parent


def test_figures_are_per_audio_second_and_per_turn() -> None:
    summary = {
        "overall": {
            "audio_seconds": 20.0,
            "turns": 4,
            "speedup": 5.0,
            "premature_cutoffs": 1,
            "missed_turns": 0,
            "eot_latency_media_ms": {"p50": 400.0, "p95": 900.0, "count": 4},
        },
        "scenarios": {
            "a": {"compute_seconds": {"asr": 2.0, "vad": 0.5}},
            "b": {"compute_seconds": {"asr": 1.0, "tts": 0.5}},
        },
    }
    f = figures(summary, [20.0] * 5 + [30.0] * 4 + [40.0])
    assert f["compute_per_audio_second"] == {"total": 0.2, "asr": 0.15, "tts": 0.025, "vad": 0.025}
    assert f["checks_per_turn"] == 2.5
    assert f["smart_turn_ms_per_check"] == {"p50": 25.0, "p95": 35.5}
    assert f["eot_latency_media_ms"] == {"p50": 400.0, "p95": 900.0}
    assert (f["premature_cutoffs"], f["missed_turns"], f["speedup"]) == (1, 0, 5.0)


def test_staged_copies_carry_their_recordings_beside_them(tmp_path: Path) -> None:
    """The copies read the same audio from their own folder (so no --allow-outside-audio)."""
    from agent.replay.scenario import load_scenario

    [copy] = stage([ROOT / "scenarios" / "23_room_tone.yaml"], tmp_path)
    tone = tmp_path / yaml.safe_load(copy.read_text())["background"]["file"]
    assert tone.read_bytes() == (ROOT / "scenarios/audio/room_tone_jfk.flac").read_bytes()
    [recorded] = stage([ROOT / "scenarios" / "10_recorded_turn.yaml"], tmp_path / "b")
    audio = tmp_path / "b" / yaml.safe_load(recorded.read_text())["turns"][0]["audio"]
    assert audio.read_bytes() == (ROOT / "scenarios/audio/pizza_order_44k_stereo.flac").read_bytes()
    assert load_scenario(recorded).turns[0].audio == "audio/0_pizza_order_44k_stereo.flac"


def test_a_run_against_a_baseline_worktree(tmp_path: Path, write, capsys) -> None:
    from pipelines.cli import main

    scenario = write(
        "one.yaml",
        "turns:\n  - user: What time is it?\n    agent: It is noon.\nexpect: {turns: 1}\n",
    )
    out = tmp_path / "bench.json"
    assert main(["bench", "pipeline", str(scenario), "--baseline", "HEAD", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["cpu"] and result["left_out"] == {}
    base, new = result["runs"]["baseline"], result["runs"]["current"]
    for run in (base, new):
        per = run["compute_per_audio_second"]
        assert {"asr", "vad", "end-of-turn", "tts"} <= set(per)
        assert abs(per["total"] - sum(v for k, v in per.items() if k != "total")) < 1e-3
        assert run["checks_per_turn"] >= 1 and run["smart_turn_ms_per_check"]["p50"] > 0
    # The same commit twice: the same decisions (compute time may differ, decisions may not).
    for key in ("premature_cutoffs", "missed_turns", "eot_latency_media_ms", "checks_per_turn"):
        assert base[key] == new[key]
    assert "of the baseline's" in capsys.readouterr().out
