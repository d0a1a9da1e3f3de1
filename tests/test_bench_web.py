"""`agent bench web`: the track offset it aligns the truth with, the scenarios it leaves out, and
one whole run (replay, then the same track through Chromium into `agent web`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agent.bench.web import offset_s, playable, shifted
from agent.media import SAMPLE_RATE
from agent.replay.scenario import load_scenario
from pipelines.cli import main

from .conftest import ROOT


def test_the_offset_is_found_to_the_sample_through_noise_and_a_gain() -> None:
    rng = np.random.default_rng(3)
    track = (0.2 * rng.standard_normal(12 * SAMPLE_RATE)).astype(np.float32)
    for lag in (0, 1, 2731, 3 * SAMPLE_RATE + 17):
        heard = 0.5 * track[lag:] + 0.02 * rng.standard_normal(len(track) - lag).astype(np.float32)
        assert offset_s(heard, track) == lag / SAMPLE_RATE


def test_scenarios_that_answer_the_bot_are_left_out() -> None:
    assert playable(load_scenario(ROOT / "scenarios" / "01_plain_qa.yaml")) is None
    assert "barge-in" in (playable(load_scenario(ROOT / "scenarios" / "11_barge_in.yaml")) or "")
    assert "echo" in (playable(load_scenario(ROOT / "scenarios" / "15_echo_speakerphone.yaml")) or "")


def test_the_truth_moves_with_the_offset() -> None:
    truth = [{"step": 0, "kind": "turn", "text": "hi", "start": 1.0, "end": 2.0, "pauses": [[1.2, 1.5]]}]
    (step,) = shifted(truth, 0.25)
    assert (step.start, step.end, step.pauses, step.clip_start) == (0.75, 1.75, ((0.95, 1.25),), 0.75)


def test_a_scenario_through_the_browser_makes_the_replays_decisions(tmp_path: Path, capsys) -> None:
    out = tmp_path / "bench.json"
    scenario = ROOT / "scenarios" / "01_plain_qa.yaml"
    assert main(["bench", "web", str(scenario), "--processing", "aec", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["scenarios"] == ["01_plain_qa"] and result["cpu"]
    replay, web = result["replay"], result["web"]["aec"]
    for figures in (replay, web):
        assert figures["turns"] == 2 and figures["turn_ends"] == 2
        assert figures["premature_cutoffs"] == 0 and figures["missed_turns"] == 0
    # The browser path adds Opus, WebRTC and real time; the decisions stay, the latency moves
    # by no more than the live recogniser's lag (one reading at the VAD stop: ~0.1 s here).
    assert abs(web["eot_latency_media_ms"]["p50"] - replay["eot_latency_media_ms"]["p50"]) < 300
    assert "| web, processing=aec |" in capsys.readouterr().out
