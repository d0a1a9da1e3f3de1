"""Manifests, RTTM pauses and the sweep arithmetic of ``agent eot-eval``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.eot.evaluate import silence_configs, summarize, sweep
from agent.eot.evidence import Evidence
from agent.eot.manifest import Item, ManifestError, load_manifest, pauses


def test_rttm_pauses_are_labelled_by_who_speaks_next() -> None:
    segs = [
        (0.0, 2.0, "A"),
        (2.8, 4.0, "A"),  # A pauses 0.8 s and goes on: hold
        (4.5, 6.0, "B"),  # B answers: A's pause at 4.0 is an eot
        (5.5, 7.0, "A"),  # A talks over B: B's pause at 6.0 has overlap -> skipped
        (7.1, 7.2, "A"),  # a 0.1 s gap: too short to be a pause
        (9.0, 10.0, "B"),
    ]
    out = pauses(segs, file_end=20.0)
    assert (2.0, 2.8, "hold", 0.0) in out
    assert (4.0, 4.5, "eot", 0.0) in out
    assert not any(p[0] == 6.0 for p in out)
    assert not any(p[0] == 7.0 for p in out)
    assert (10.0, 20.0, "eot", 9.0) in out


def test_silences_inside_one_speakers_segment_are_holds() -> None:
    segs = [(0.0, 10.0, "A"), (6.0, 6.5, "B"), (12.0, 13.0, "B")]
    silences = [(2.0, 2.6), (4.0, 4.1), (5.8, 6.9), (9.5, 12.0)]
    out = pauses(segs, file_end=20.0, silences=silences)
    assert (2.0, 2.6, "hold", 0.0) in out  # inside A's segment, no one else: hold
    assert not any(p[0] == 4.0 for p in out)  # 0.1 s: too short
    assert not any(p[0] == 5.8 for p in out)  # B speaks in it: overlap, skipped
    assert not any(p[0] == 9.5 for p in out)  # runs past A's segment: judged by the segments
    assert (10.0, 12.0, "eot", 0.0) in out


def test_a_written_manifest_reads_back_from_another_folder(tmp_path: Path) -> None:
    from agent.eot.manifest import write_manifest

    (tmp_path / "audio").mkdir()
    sf.write(tmp_path / "audio" / "a.wav", np.zeros(16000, np.float32), 16000)
    items = [Item(str(tmp_path / "audio" / "a.wav"), 0.2, 0.5, "hold", 0.0)]
    (tmp_path / "out").mkdir()
    write_manifest(items, tmp_path / "out" / "m.jsonl")
    assert json.loads((tmp_path / "out" / "m.jsonl").read_text())["audio"] == "../audio/a.wav"
    assert load_manifest(tmp_path / "out" / "m.jsonl") == items


def test_manifest_errors_name_the_line(tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    good = {"audio": "a.wav", "pause_start": 0.2, "pause_end": 0.5, "label": "hold"}
    cases = [
        ("{not json", "2: not JSON"),
        (json.dumps({**good, "label": "maybe"}), "2: label must be 'hold' or 'eot'"),
        (json.dumps({k: v for k, v in good.items() if k != "pause_end"}), "2: missing field 'pause_end'"),
        (json.dumps({**good, "audio": "nope.wav"}), "2: audio file not found"),
        (json.dumps({**good, "pause_end": 0.1}), "2: pause_end is before pause_start"),
    ]
    for line, message in cases:
        p = tmp_path / "m.jsonl"
        p.write_text(json.dumps(good) + "\n" + line + "\n")
        with pytest.raises(ManifestError, match=message):
            load_manifest(p)
    p.write_text(json.dumps({**good, "extra": 1}) + "\n")
    [item] = load_manifest(p)
    assert item.audio == str(tmp_path / "a.wav") and item.turn_start is None


def evidence(label: str, length: float) -> Evidence:
    return Evidence(Item("x.wav", 1.0, 1.0 + length, label), {}, ((0.1, "The shop opens at nine."),))  # type: ignore[arg-type]


def test_sweep_counts_cutoffs_and_latency_and_picks_the_headline_settings() -> None:
    items = [evidence("hold", 0.5), evidence("hold", 1.1), evidence("eot", 5.0), evidence("eot", 5.0)]
    rows = sweep(items, silence_configs())
    by_threshold = {r["settings"]["threshold_s"]: r for r in rows}
    assert by_threshold[0.4]["false_cutoff_rate"] == 1.0
    assert by_threshold[0.6]["false_cutoff_rate"] == 0.5
    assert by_threshold[1.2]["false_cutoff_rate"] == 0.0
    assert by_threshold[1.2]["mean_latency_ms"] == 1200.0
    s = summarize(rows)
    assert s["cutoff_at_600ms"] == 0.5 and s["cutoff_at_600ms_settings"] == {"threshold_s": 0.5}
    assert s["cutoff_at_300ms"] == 1.0
    assert s["latency_at_5pct_cutoff_ms"] == 1100.0  # the 1.1 s hold ends as the threshold is reached
    assert [r["false_cutoff_rate"] for r in s["frontier"]] == [1.0, 0.5, 0.0]


def test_holds_outside_the_scored_span_do_not_count() -> None:
    items = [evidence("hold", 0.1), evidence("hold", 1.1), evidence("hold", 6.0), evidence("eot", 5.0)]
    by_threshold = {r["settings"]["threshold_s"]: r for r in sweep(items, silence_configs())}
    assert by_threshold[1.0]["false_cutoff_rate"] == 1.0  # only the 1.1 s hold is scored
    assert by_threshold[1.2]["false_cutoff_rate"] == 0.0  # the 6 s one would be cut by anything
    wide = {r["settings"]["threshold_s"]: r for r in sweep(items, silence_configs(), hold_span=(0.0, 9.0))}
    assert wide[1.2]["false_cutoff_rate"] == round(1 / 3, 4)


def test_eot_eval_end_to_end_on_a_cut_sentence(voice, tmp_path: Path) -> None:
    from agent.replay.assemble import text_clip
    from pipelines.cli import main

    clip = text_clip("I would like to book a table for [pause 1.5] four people tonight.", voice, "turn")
    audio = np.concatenate([np.zeros(8000, np.float32), clip.audio, np.zeros(48000, np.float32)])
    sf.write(tmp_path / "dictation.wav", audio, 16000)
    (hold_start, hold_end) = clip.pauses[0]
    lines = [
        {
            "audio": "dictation.wav",
            "pause_start": 0.5 + hold_start,
            "pause_end": 0.5 + hold_end,
            "label": "hold",
            "turn_start": 0.5,
        },
        {
            "audio": "dictation.wav",
            "pause_start": 0.5 + clip.speech[1],
            "pause_end": len(audio) / 16000,
            "label": "eot",
            "turn_start": 0.5,
        },
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "eot.json"
    assert main(["eot-eval", str(tmp_path / "m.jsonl"), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["items"] == {"hold": 1, "hold_not_scored": 0, "eot": 1}
    assert set(result["detectors"]) == {"silence", "smart-turn", "hybrid"}
    for figures in result["detectors"].values():
        for key in (
            "cutoff_at_300ms",
            "cutoff_at_600ms",
            "latency_at_5pct_cutoff_ms",
            "latency_at_10pct_cutoff_ms",
            "sweep",
        ):
            assert key in figures
    hold = result["pauses"][0]
    assert hold["cue"] == "open"  # "... a table for" is unfinished
    assert 0 <= hold["smart_turn"]["0.2"] <= 1
    # An unfinished sentence never gets cut off by the hybrid at its chosen settings.
    best = result["detectors"]["hybrid"]["latency_at_5pct_cutoff_ms_settings"]
    assert best is not None
    # The evidence it recorded sweeps again to the same figures, with no model run.
    again = tmp_path / "again.json"
    assert main(["eot-eval", "--evidence", str(out), "--json", str(again)]) == 0
    assert json.loads(again.read_text())["detectors"] == result["detectors"]
    # ... and reads each transcript's cue again with today's rules, not the recorded cue.
    stale = json.loads(out.read_text())
    stale["pauses"][0]["cue"] = "closed"
    out.write_text(json.dumps(stale))
    assert main(["eot-eval", "--evidence", str(out), "--json", str(again)]) == 0
    assert json.loads(again.read_text())["pauses"][0]["cue"] == "open"


def test_hybrid_grid_holds_every_smart_turn_setting() -> None:
    """The words can only add to the model: for each smart-turn setting the hybrid's grid has
    one that fires at the same time on any evidence."""
    from agent.eot.evaluate import hybrid_configs, smart_turn_configs
    from agent.eot.evidence import Evidence
    from agent.eot.manifest import Item

    rng = np.random.default_rng(3)
    offsets = [round(0.1 * k, 1) for k in range(1, 31)]
    evidence = [
        Evidence(Item("x.wav", 1.0, 2.0, "hold"), {d: float(rng.random()) for d in offsets}, ((0.1, text),))
        for text in ("my number is", "Yes.", "What time is it?", "The shop opens at nine.")
        for _ in range(4)
    ]
    hybrid = {}
    for s, fire in hybrid_configs():
        hybrid.setdefault((s["threshold"], s["delay_s"], s["recheck_s"], s["max_silence_s"]), []).append(fire)
    for s, fire in smart_turn_configs():
        recheck = 10.0 if s["recheck_s"] is None else s["recheck_s"]
        want = [fire(e) for e in evidence]
        candidates = hybrid[(s["threshold"], s["delay_s"], recheck, s["fallback_s"])]
        assert any([f(e) for e in evidence] == want for f in candidates), s


def test_smart_turn_grid_holds_every_hybrid_setting_that_ignores_the_words() -> None:
    """A fair comparison: whatever the hybrid gains over smart-turn comes from the words, not from
    acoustic settings only its grid has."""
    from agent.eot.evaluate import hybrid_configs, smart_turn_configs

    acoustic = {
        (s["threshold"], s["delay_s"], None if s["recheck_s"] == 10.0 else s["recheck_s"], s["max_silence_s"])
        for s, _ in hybrid_configs()
        if s["closed_threshold"] == s["question_threshold"] == s["open_threshold"] == s["threshold"]
        and s["open_min_silence_s"] <= s["delay_s"]
        and s["score_lead_s"] == 0.0
    }
    alone = {(s["threshold"], s["delay_s"], s["recheck_s"], s["fallback_s"]) for s, _ in smart_turn_configs()}
    assert acoustic <= alone


def test_agreement_names_why_the_replay_and_the_evaluation_differ(tmp_path: Path) -> None:
    from agent.eot.agreement import compare

    def timeline(folder: str, events: list[dict]) -> str:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "timeline.json").write_text(json.dumps({"events": events}))
        return str(tmp_path / folder / "heard.wav")

    def said(t: float, *words: tuple[str, float, float]) -> dict:
        return {"t": t, "type": "final", "words": [{"w": w, "start": a, "end": b} for w, a, b in words]}

    start = {"t": 1.2, "type": "turn_start", "onset": 1.0}
    stop = {"t": 2.2, "type": "vad_stop", "speech_end": 2.0}
    hello = said(2.2, ("Hello", 1.0, 1.5), ("there.", 1.5, 2.0))
    same = timeline("same", [start, stop, hello, {"t": 2.32, "type": "turn_end"}])
    deaf = timeline("deaf", [start, hello])
    misheard = timeline("misheard", [start, stop, said(2.2, ("Hello", 1.0, 1.5), ("bear.", 1.5, 2.0))])
    unknown = timeline("unknown", [start, stop, hello])
    elsewhere = timeline("elsewhere", [{"t": 0.4, "type": "turn_start", "onset": 0.2}, stop, hello])

    def evidence(audio: str) -> Evidence:
        return Evidence(Item(audio, 2.0, 4.0, "eot", 1.0), {0.3: 0.99}, ((0.1, "Hello there."),))

    rows = compare([evidence(a) for a in (same, deaf, misheard, unknown, elsewhere)], lambda e: 0.3)
    assert [(r.scenario, r.agrees, r.reason) for r in rows] == [
        ("same", True, ""),  # 0.32 s against 0.3 s: one step
        ("deaf", False, "no_vad_stop"),
        ("misheard", False, "other_words"),
        ("unknown", False, "unexplained"),
        ("elsewhere", False, "other_turn"),  # the replay's turn began 0.8 s earlier
    ]


def test_close_calls_count_the_checks_a_few_hundredths_could_flip() -> None:
    from agent.eot.evaluate import close_calls
    from agent.settings import Settings

    s = Settings()  # hybrid: neutral words need 0.985, first check at 0.3 s, again every 0.4 s
    scores = {round(0.1 * k, 1): 0.5 for k in range(1, 31)}
    near = Evidence(Item("a.wav", 1.0, 4.0, "eot", 0.0), {**scores, 0.3: 0.96}, ((0.1, "It is done."),))
    clear = Evidence(Item("a.wav", 5.0, 8.0, "eot", 4.0), {**scores, 0.3: 0.9}, ((0.1, "Is it done?"),))
    short = Evidence(Item("a.wav", 9.0, 9.5, "hold", 8.0), {**scores, 0.3: 0.96}, ((0.1, "It is done."),))
    out = close_calls([near, clear, short], s)["hybrid"]
    # near: 0.96 at 0.3 s (close), then 0.5 at 0.7, 1.1 and 1.5 s (not; none at 1.9 s, 0.1 s
    # before the 2 s timeout); clear: a question, 0.9 against 0.2, ends at 0.3 s; short: its one
    # check at 0.3 s is close (0.96 against 0.985).
    # (A neutral turn the hybrid ends on the score is always close: nothing lies 0.03 above 0.985.)
    assert out == {"checks": 6, "close": 2}
