"""Ground truth comes from how the audio was built: cut points, pauses and turn ends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from agent.media import SAMPLE_RATE, on_grid
from agent.replay.assemble import Clip, text_clip
from agent.replay.player import ScenarioPlayer
from agent.replay.scenario import Scenario


def test_a_pause_is_cut_into_the_whole_sentence_at_a_word_boundary(voice) -> None:
    full = voice.synthesize("My number is 4 1 5 5 5 5.")
    clip = text_clip("My number is 4 1 5 [pause 1.2] 5 5 5.", voice, "turn")
    [(p_start, p_end)] = clip.pauses
    before, after = full.words[5], full.words[6]  # "5" (last of 4 1 5) and the next "5"
    assert p_start == pytest.approx(before.end)
    assert p_end == pytest.approx(after.start + 1.2)
    # The speech before the cut is the sentence's own audio (same samples: same intonation),
    # apart from the 8 ms fade at the cut.
    cut = round((before.end + after.start) / 2 * SAMPLE_RATE)
    fade = int(0.008 * SAMPLE_RATE)
    assert np.array_equal(clip.audio[: cut - fade], full.audio[: cut - fade])
    # Then exactly 1.2 s of silence, then the rest of the sentence.
    assert not clip.audio[cut : cut + round(1.2 * SAMPLE_RATE)].any()
    assert len(clip.audio) == len(full.audio) + round(1.2 * SAMPLE_RATE)
    assert clip.speech[1] == pytest.approx(full.words[-1].end + 1.2)


@dataclass
class FakeBot:
    """A bot that talks during fixed media-time spans."""

    spans: list[tuple[float, float]]
    now: float = 0.0

    @property
    def speaking(self) -> bool:
        return any(a <= self.now < b for a, b in self.spans)

    @property
    def speech_started_at(self) -> float | None:
        return next((a for a, b in self.spans if a <= self.now < b), None)

    @property
    def last_stop(self) -> float | None:
        return max((b for a, b in self.spans if b <= self.now), default=None)


def play(scenario: Scenario, clips: list[Clip], bot: FakeBot) -> ScenarioPlayer:
    player = ScenarioPlayer(scenario, clips)
    n, k = 320, 0
    while not player.done and k < 5000:
        bot.now = k * n / SAMPLE_RATE
        player.chunk(bot.now, n, bot)
        k += 1
    return player


def tone(seconds: float, kind: str = "turn") -> Clip:
    audio = np.full(round(seconds * SAMPLE_RATE), 0.1, dtype=np.float32)
    return Clip(audio, kind, "x", (0.1, seconds - 0.1))


def scenario(*starts: dict) -> Scenario:
    turns = [{"user": "x", "start": s} for s in starts]
    return Scenario.model_validate(
        {"turns": turns, "lead_in_s": 0.5, "gap_s": 0.7, "reply_timeout_s": 4.0, "tail_s": 1.0}
    )


def grid(t: float) -> float:
    return round(on_grid(t, up=True), 3)


def test_steps_follow_the_bot() -> None:
    sc = scenario({}, {}, {"after_bot_start": 1.2}, {"after_previous": 0.3})
    clips = [tone(1.0), tone(1.0), tone(0.5), tone(0.5)]
    # Bot replies 3.0-5.0 to step 0, then never replies to step 1; then talks 12.0-20.0.
    bot = FakeBot([(3.0, 5.0), (12.0, 20.0)])
    player = play(sc, clips, bot)
    starts = [round(s.clip_start, 3) for s in player.truth]
    # Every step starts on the media grid (rounded up): the same phase against the VAD windows.
    assert starts[0] == grid(0.5)  # lead-in
    assert starts[1] == grid(5.0 + 0.7)  # the bot stopped at 5.0, + gap 0.7
    # Step 1 ended 1 s later; the bot never replied: step 2 would wait for a reply start; it
    # would start 1.2 s into the bot's speech at 12.0, but the 4 s timeout comes first.
    assert starts[2] == grid(starts[1] + 1.0 + 4.0)
    assert starts[3] == grid(starts[2] + 0.5 + 0.3)
    assert player.truth[0].end == pytest.approx(starts[0] + 0.9)


def test_a_cut_in_is_timed_from_the_bot_reply() -> None:
    sc = scenario({}, {"after_bot_start": 1.2})
    bot = FakeBot([(2.0, 9.0)])
    player = play(sc, [tone(1.0), tone(0.5)], bot)
    assert [round(s.clip_start, 3) for s in player.truth] == [grid(0.5), grid(2.0 + 1.2)]
    assert player.done  # the end waits for the bot to finish, plus the tail


def test_truth_positions_are_exact_samples() -> None:
    sc = scenario({})
    player = play(sc, [tone(1.0)], FakeBot([]))
    [step] = player.truth
    at = grid(0.5)  # the lead-in, on the grid
    assert (step.start, step.end) == pytest.approx((at + 0.1, at + 0.9))
