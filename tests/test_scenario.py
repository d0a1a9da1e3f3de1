"""The scenario model: valid files load, bad ones fail with one line naming file and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.replay.scenario import ScenarioError, find_scenarios, load_scenario, split_text

from .conftest import ROOT


def test_every_bundled_scenario_loads() -> None:
    files = find_scenarios(ROOT / "scenarios")
    assert len(files) >= 12
    names = {load_scenario(f).name for f in files}
    assert len(names) == len(files)


def test_defaults_and_derived_fields(write) -> None:
    p = write("qa.yaml", "turns:\n  - user: Hello there.\n    agent: Hi.\n  - user: Bye.\n")
    sc = load_scenario(p)
    assert sc.name == "qa"
    assert sc.turns[0].kind == "turn"
    assert sc.replies == ["Hi.", ""]
    assert sc.expect.turns is None


def test_pause_markers_split_the_text() -> None:
    pieces, pauses = split_text("My number is 4 1 5 [pause 1.2] 5 5 5 [ pause 0.5s ] 0 1 2 3.")
    assert pieces == ["My number is 4 1 5", "5 5 5", "0 1 2 3."]
    assert pauses == [1.2, 0.5]


def _error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("turns:\n  - user: Hi\n    agnt: typo\n", "turns.0.agnt: Extra inputs are not permitted"),
        ("turns: []\n", "turns: List should have at least 1 item"),
        (
            "turns:\n  - agent: Hi\n",
            "turns.0: each step needs exactly one of user, audio, noise, silence",
        ),
        ("turns:\n  - user: Hi\n    silence: 2\n", "(got user, silence)"),
        ("turns:\n  - user: one [pause x] two\n", "pause marker '[pause x]' needs a number"),
        ("turns:\n  - user: one [pause 12] two\n", "between 0 and 10 s"),
        ("turns:\n  - user: one two [pause 1]\n", "must stand between words"),
        ("turns:\n  - user: one [wait 1] two\n", "unknown marker '[wait 1]'"),
        (
            "turns:\n  - user: Hi\n    kind: backchannel\n    agent: x\n",
            "a backchannel gets no agent reply",
        ),
        ("turns:\n  - user: Hi\n    start: {gap_s: 1, after_previous: 2}\n", "give one start rule"),
        ("turns:\n  - silence: -1\n", "turns.0.silence: Input should be greater than 0"),
        (
            "echo: {delay_ms: 10}\nturns:\n  - user: Hi\n",
            "echo.delay_ms: Input should be greater than or equal to 40",
        ),
        ("- just\n- a list\n", "expected a mapping"),
        ("turns:\n  - user: [unclosed\n", "line 3: invalid YAML"),
    ],
)
def test_bad_scenarios_name_the_field(write, body: str, expected: str) -> None:
    assert expected in _error(write("bad.yaml", body))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert "file not found" in _error(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match=r"no \*\.yaml scenario files"):
        find_scenarios(tmp_path)


def test_audio_steps_are_checked(write, tmp_path: Path) -> None:
    p = write("a.yaml", "turns:\n  - audio: missing.wav\n")
    assert "turns.0.audio: file not found" in _error(p)

    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    p = write("b.yaml", "turns:\n  - audio: corrupt.wav\n")
    assert "turns.0.audio: cannot decode" in _error(p)

    sf.write(tmp_path / "short.wav", np.zeros(8000, dtype=np.float32), 16000)
    p = write("c.yaml", "turns:\n  - audio: short.wav\n    pauses: [{at: 0.9, length: 1}]\n")
    assert "turns.0.pauses: pause at 0.9 s is past the end of short.wav" in _error(p)
