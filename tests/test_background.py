"""A scenario's noise floor: checked when loaded, made at its level, laid under the whole mic."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from agent.media import SAMPLE_RATE
from agent.replay.background import BackgroundTrack, at_rms, babble, background_track, pink_noise
from agent.replay.scenario import Background, ScenarioError, load_scenario


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64)))))


def test_a_background_is_checked_with_the_rest_of_the_scenario(write) -> None:
    turn = "turns:\n  - user: Hello there.\n"
    with pytest.raises(ScenarioError, match=r"background: .*needs a file"):
        load_scenario(write("a.yaml", "background: {kind: recording}\n" + turn))
    with pytest.raises(ScenarioError, match=r"background\.level_db"):
        load_scenario(write("b.yaml", "background: {kind: pink, level_db: -5}\n" + turn))
    with pytest.raises(ScenarioError, match=r"background\.file: file not found"):
        load_scenario(write("c.yaml", "background: {kind: recording, file: room.wav}\n" + turn))
    assert load_scenario(write("d.yaml", "background: {kind: pink}\n" + turn)).background == Background(
        kind="pink"
    )


def test_pink_noise_has_a_falling_spectrum_loops_without_a_seam_and_sits_at_its_level() -> None:
    noise = pink_noise(4.0)
    spectrum = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(len(noise), 1 / SAMPLE_RATE)
    low, high = spectrum[(f > 100) & (f < 200)].mean(), spectrum[(f > 3200) & (f < 6400)].mean()
    assert 10 < low / high < 80  # 1/f: about 32 times the power per Hz, 5 octaves down
    jump = abs(float(noise[0] - noise[-1]))
    assert jump < 4 * float(np.median(np.abs(np.diff(noise))))  # wraps like any two neighbours
    assert abs(rms_db(at_rms(noise, -45.0)) + 45.0) < 0.01
    assert np.array_equal(pink_noise(4.0), noise)  # deterministic


def test_a_track_loops_endlessly_from_the_start() -> None:
    track = BackgroundTrack(np.arange(5, dtype=np.float32))
    assert list(track.next(3)) + list(track.next(4)) == [0, 1, 2, 3, 4, 0, 1]


def test_babble_is_several_voices_at_once(voice) -> None:
    b = babble(voice, seconds=6.0)
    assert len(b) == 6 * SAMPLE_RATE and np.array_equal(b, babble(voice, seconds=6.0))
    active = np.mean(np.abs(b.reshape(-1, 320)).max(axis=1) > 0.05)
    assert active > 0.9  # hardly a gap: voices overlap


def test_a_recorded_background_comes_from_the_scenarios_folder(write, voice, tmp_path: Path) -> None:
    room = (0.01 * np.random.default_rng(1).standard_normal(2 * 44100)).astype(np.float32)
    sf.write(tmp_path / "room.flac", np.stack([room, room], axis=1), 44100)
    sc = load_scenario(
        write(
            "r.yaml", "background: {kind: recording, file: room.flac, level_db: -50}\nturns:\n  - user: Hi.\n"
        )
    )
    track = background_track(sc.background, sc, voice)  # type: ignore[arg-type]
    assert len(track.loop) == 2 * SAMPLE_RATE and abs(rms_db(track.loop) + 50.0) < 0.01


def test_the_replay_lays_the_floor_under_every_pause(write, replayer) -> None:
    text = "background: {kind: pink, level_db: -50}\nturns:\n  - user: I would like [pause 0.8] a coffee.\n"
    run = asyncio.run(replayer.run(load_scenario(write("floor.yaml", text))))
    (a, b) = run.truth[0].pauses[0]
    pause = run.user_audio[round((a + 0.1) * SAMPLE_RATE) : round((b - 0.1) * SAMPLE_RATE)]
    lead_in = run.user_audio[: round(0.4 * SAMPLE_RATE)]
    assert abs(rms_db(pause) + 50.0) < 3 and abs(rms_db(lead_in) + 50.0) < 3  # 1/f noise: short windows vary
    assert np.count_nonzero(pause == 0) < 0.01 * len(pause)
