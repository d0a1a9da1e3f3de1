"""Full replays with the real models: outputs, the media clock, echo, and the command line."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import numpy as np
import pytest

from agent.replay.batch import replay_all
from agent.replay.runner import Replayer
from agent.replay.scenario import load_scenario
from pipelines.cli import main

SCENARIO = """
description: Two short turns, the second with a pause inside.
turns:
  - user: What time does the pharmacy open tomorrow?
    agent: It opens at nine.
  - user: And is it open on [pause 0.7] Sunday?
    agent: No, it is closed on Sunday.
expect: {missed_turns: 0, finals_include: [pharmacy]}
"""

DECISIONS = (
    "vad_start",
    "vad_stop",
    "final",
    "turn_start",
    "eot_check",
    "turn_end",
    "turn_discarded",
    "llm_first_token",
    "tts_first_audio",
    "bot_audio_start",
    "bot_audio_stop",
)


def decisions(events: list[dict]) -> list[tuple]:
    """Everything decided, with media times; live times (compute) are left out."""
    return [
        (e["type"], e["t"], e.get("text"), e.get("score"), e.get("detector"))
        for e in events
        if e["type"] in DECISIONS
    ]


def test_full_replay_writes_summary_timeline_and_report(write, tmp_path: Path, replayer) -> None:
    path = write("two_turns.yaml", SCENARIO)
    out = tmp_path / "out"
    with open(os.devnull, "w") as quiet:
        summary = asyncio.run(replay_all([path], out, replayer.settings, progress=quiet))

    assert set(summary) == {"overall", "scenarios"}
    figures = summary["scenarios"]["two_turns"]
    for key in (
        "audio_seconds",
        "wall_seconds",
        "turns",
        "eot_latency_ms",
        "voice_to_voice_ms",
        "premature_cutoffs",
        "missed_turns",
        "expectations_failed",
    ):
        assert key in figures
    assert figures["turns"] == 2
    assert figures["missed_turns"] == 0
    assert figures["expectations_failed"] == []
    assert summary["overall"]["settings"]["detector"] == "hybrid"
    assert summary["overall"]["settings"]["hybrid"]["threshold"] == 0.985
    assert json.loads((out / "summary.json").read_text()) == summary

    timeline = json.loads((out / "two_turns" / "timeline.json").read_text())
    events = timeline["events"]
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    assert all(e.get("t_live", e["t"]) >= e["t"] for e in events)
    ends = [e for e in events if e["type"] == "turn_end"]
    assert ends and all(e["detector"] == summary["overall"]["settings"]["detector"] for e in ends)
    finals = [e for e in events if e["type"] == "final"]
    assert all(w["start"] <= w["end"] for f in finals for w in f["words"])
    assert "pharmacy" in " ".join(f["text"].lower() for f in finals)
    # Every turn end comes after the finals (or the recogniser's flush) cover its speech.
    covers = [e for e in events if e["type"] in ("final", "asr_flush")]
    for end in ends:
        assert any(c["t"] <= end["t"] and c["audio_end"] >= end["speech_end"] for c in covers)
    truth = [s for s in timeline["truth"] if s["kind"] == "turn"]
    assert len(truth) == 2 and len(truth[1]["pauses"]) == 1
    for kind in ("bot_audio_start", "bot_audio_stop", "llm_first_token", "tts_first_audio"):
        assert any(e["type"] == kind for e in events), kind

    page = (out / "two_turns" / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "true end" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # offline


def test_same_decisions_at_full_speed_twice_and_in_real_time(write, replayer) -> None:
    scenario = load_scenario(write("clock.yaml", SCENARIO))
    first = asyncio.run(replayer.run(scenario))
    second = asyncio.run(replayer.run(scenario))
    realtime = Replayer(replayer.settings, realtime=True, models=replayer.models)
    paced = asyncio.run(realtime.run(scenario))

    assert paced.wall_seconds >= 0.9 * paced.audio_seconds  # really paced
    assert first.wall_seconds < paced.wall_seconds
    reference = decisions(first.timeline.sorted_events())
    assert any(d[0] == "turn_end" for d in reference)
    assert decisions(second.timeline.sorted_events()) == reference
    assert decisions(paced.timeline.sorted_events()) == reference
    assert np.array_equal(first.user_audio, paced.user_audio)


def test_echo_leaks_the_bot_audio_into_the_microphone(write, replayer) -> None:
    scenario = load_scenario(
        write(
            "echo.yaml",
            """
echo: {delay_ms: 100, level_db: -20}
greeting: Hello, how can I help you today?
turns:
  - silence: 1
""",
        )
    )
    run = asyncio.run(replayer.run(scenario))
    delay = int(0.1 * 16000)
    mic, bot = run.user_audio, run.bot_audio
    assert np.abs(bot).max() > 0.1
    # The user is silent: the microphone holds exactly the bot's audio, 100 ms late, at -20 dB.
    assert np.allclose(mic[delay:], 0.1 * bot[: len(mic) - delay], atol=1e-6)
    assert not mic[:delay].any()


def test_cli_bad_scenario_is_one_line_and_exit_2(write, tmp_path: Path, capsys) -> None:
    bad = write("bad.yaml", "turns:\n  - user: hi\n    pause: 2\n")
    assert main(["replay", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"agent: {bad}: turns.0.pause: Extra inputs are not permitted"]


def test_cli_openai_without_configuration_is_refused(write, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    ok = write("ok.yaml", "turns:\n  - user: hi\n")
    assert main(["replay", str(ok), "--llm", "openai", "--out", str(tmp_path)]) == 2
    assert "OPENAI_API_KEY or OPENAI_BASE_URL" in capsys.readouterr().err


@pytest.mark.parametrize(("expect", "code"), [("{turns: 1}", 0), ("{turns: 3}", 1)])
def test_cli_exit_code_follows_the_expectations(
    write, tmp_path: Path, capsys, expect: str, code: int
) -> None:
    p = write("one.yaml", f"turns:\n  - user: What time is it?\n    agent: Noon.\nexpect: {expect}\n")
    assert main(["replay", str(p), "--out", str(tmp_path / "o")]) == code
    captured = capsys.readouterr()
    assert "1 scenarios" in captured.out
    if code:
        assert "expectation failed: one: turns: expected 3 turn ends, got 1" in captured.err


def test_a_broken_recording_fails_its_scenario_only(tmp_path: Path, capsys) -> None:
    """Audio whose header reads fine but whose data is corrupt: a one-line error for that
    scenario, exit code 2, and the other scenario's results are still written."""
    folder = tmp_path / "sc"
    folder.mkdir()
    noise = (np.random.default_rng(0).standard_normal(32000) * 0.1).astype(np.float32)
    import soundfile as sf

    sf.write(folder / "broken.flac", noise, 16000)
    data = bytearray((folder / "broken.flac").read_bytes())
    for i in range(200, len(data) - 10):
        data[i] = (data[i] * 7 + 13) % 256
    (folder / "broken.flac").write_bytes(bytes(data))
    (folder / "a_good.yaml").write_text("turns:\n  - user: Hello.\n    agent: Hi.\n")
    (folder / "b_broken.yaml").write_text("turns:\n  - audio: broken.flac\n")
    out = tmp_path / "out"
    assert main(["replay", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"agent: {folder / 'b_broken.yaml'}: turns.0.audio: {folder / 'broken.flac'}: cannot decode" in err
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["scenarios"]) == ["a_good"]
    assert len(summary["overall"]["errors"]) == 1
    assert (out / "a_good" / "report.html").is_file()


def test_segment_recogniser_still_replays(write, replayer) -> None:
    """``--asr segment`` (one pass per VAD segment) stays available for comparison."""
    settings = replayer.settings.model_copy(update={"asr": "segment"})
    segment = Replayer(settings, models=replayer.models)
    run = asyncio.run(segment.run(load_scenario(write("seg.yaml", SCENARIO))))
    events = run.timeline.sorted_events()
    assert not any(e["type"] == "partial" for e in events)
    assert "pharmacy" in " ".join(e["text"].lower() for e in events if e["type"] == "final")
    assert sum(e["type"] == "turn_end" for e in events) >= 2


def test_streaming_recogniser_shows_partials_but_acts_on_finals(write, replayer) -> None:
    run = asyncio.run(replayer.run(load_scenario(write("stream.yaml", SCENARIO))))
    events = run.timeline.sorted_events()
    assert any(e["type"] == "partial" for e in events)
    finals = [e for e in events if e["type"] == "final"]
    for end in (e for e in events if e["type"] == "turn_end"):
        # The turn's text is exactly the finals before the decision, never a partial.
        before = [f for f in finals if f["t"] <= end["t"]]
        assert end["text"] and end["text"] in " ".join(f["text"] for f in before)


def test_compare_replays_each_strategy_and_writes_the_side_by_side_page(
    write, tmp_path: Path, capsys
) -> None:
    path = write("short.yaml", SCENARIO)
    out = tmp_path / "cmp"
    assert main(["compare", str(path), "--detectors", "silence,hybrid", "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text())
    assert set(result["replays"]) == set(result["detectors"]) == {"silence", "hybrid"}
    assert result["pauses"]["eot"] >= 2
    for name in ("silence", "hybrid"):
        assert (out / name / "summary.json").is_file()
        d = result["detectors"][name]
        assert d["sweep"] and d["frontier"] and "cutoff_at_600ms" in d
    page = (out / "compare.html").read_text()
    assert "<svg" in page and page.count("<polyline") == 2 and "hybrid" in page


def test_compare_refuses_a_strategy_it_cannot_run(write, capsys) -> None:
    path = write("short.yaml", SCENARIO)
    assert main(["compare", str(path), "--detectors", "hybrid,native"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("agent: --detectors native") and "\n" not in err
