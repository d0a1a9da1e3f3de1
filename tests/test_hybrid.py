"""Text cues and the hybrid end-of-turn rule, with plain numbers."""

from __future__ import annotations

import numpy as np
import pytest

from agent.turn.detectors import HybridDetector, HybridSettings, PauseContext, decide, worth_checking
from agent.turn.text_cues import text_cue


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("My number is", "open"),
        ("My number is 415", "open"),  # a digit group too short for a phone number
        ("My number is 4 1 5", "open"),
        ("My number is 415 555 0123.", "closed"),  # ten digits
        ("I would like to book a table for", "open"),
        ("and then", "open"),
        ("Great. See you then.", "neutral"),  # "then" goes on only after a connective
        ("My number is 4", "open"),  # a number being dictated
        ("Move the dentist to 5.", "neutral"),  # a time: as "at nine"
        ("Sure, it is K O W", "open"),  # spelling
        ("um", "open"),
        ("It goes to 128 Maple Street,", "open"),
        ("Yes.", "closed"),
        ("Two.", "closed"),
        ("That's right.", "closed"),
        ("What time does the pharmacy open tomorrow?", "question"),
        ("Can you tell me what time the pharmacy opens", "question"),
        ("I see. Can you tell me when it opens", "question"),
        ("Okay. Yes.", "closed"),
        ("Yes, that is right.", "closed"),  # a short answer after "yes"
        ("No, thank you.", "closed"),
        ("Yes, and the other one.", "neutral"),  # "yes" opening something longer
        ("Right, so the next thing.", "neutral"),
        # How a turn ends is in its last sentence: this one asked first, then went on.
        ("Can you remind me, I don't have to tick it until I finish. It only takes a minute.", "neutral"),
        ("Okay. Okay. So, if you view it and let's see.", "neutral"),
        ("The pharmacy opens at nine.", "neutral"),
        ("I really like that", "neutral"),  # "that" ends sentences too
        ("I told her", "neutral"),
        ("That's pretty straightforward, I think you'll", "open"),  # a subject and its auxiliary
        ("We've", "open"),
        ("And then I", "open"),  # a subject with no verb yet
        ("So we", "open"),
        ("So do I.", "neutral"),  # the verb came first
        ("Neither can we", "neutral"),
        ("She is taller than he", "neutral"),
        ("I told them", "neutral"),  # an object pronoun ends sentences
        ("", "neutral"),
    ],
)
def test_text_cues(text: str, cue: str) -> None:
    assert text_cue(text) == cue


def test_floor_taking_words_are_open_only_when_the_user_cut_in() -> None:
    assert text_cue("Wait.", cut_in=True) == "open"
    assert text_cue("No, hold on.", cut_in=True) == "open"
    assert text_cue("No.", cut_in=False) == "closed"  # an answer to a yes/no question
    assert text_cue("Wait, what about holidays?", cut_in=True) == "question"


def test_decide_weighs_the_acoustic_score_by_the_words() -> None:
    s = HybridSettings(
        threshold=0.9,
        closed_threshold=0.3,
        question_threshold=0.5,
        open_threshold=0.95,
        open_min_silence_s=1.2,
    )
    assert decide(0.4, "closed", 0.2, s)  # "yes." with a middling score: done at once
    assert not decide(0.4, "question", 0.2, s) and decide(0.5, "question", 0.2, s)
    assert not decide(0.8, "neutral", 0.2, s)
    assert decide(0.92, "neutral", 0.2, s)
    assert not decide(0.99, "open", 0.6, s)  # "my number is" never ends early
    assert decide(0.99, "open", 1.2, s)
    assert not decide(0.5, "open", 1.6, s)
    assert decide(0.0, "open", s.max_silence_s, s)  # the fallback


def test_words_that_read_neutral_never_hold_a_turn_longer_than_an_unfinished_sentence() -> None:
    s = HybridSettings(threshold=0.975, closed_threshold=0.2, open_threshold=0.9, open_min_silence_s=1.2)
    for p in (0.5, 0.9, 0.95, 0.975, 0.99):
        for silence in (0.3, 0.7, 1.1, 1.2, 1.6, 2.0):
            if decide(p, "open", silence, s):
                assert decide(p, "neutral", silence, s), (p, silence)
            if decide(p, "neutral", silence, s):
                assert decide(p, "closed", silence, s), (p, silence)
                assert decide(p, "question", silence, s), (p, silence)
    assert not decide(0.95, "neutral", 1.1, s) and decide(0.95, "neutral", 1.2, s)


def test_no_model_check_just_before_the_timeout() -> None:
    calls: list[float] = []

    def score(audio: np.ndarray) -> float:
        calls.append(len(audio) / 16000)
        return 0.5

    settings = HybridSettings(threshold=0.9, delay_s=0.3, recheck_s=0.4, max_silence_s=2.0)
    d = HybridDetector(score, settings)

    def at(now: float) -> PauseContext:
        audio = lambda a, b: np.zeros(round((b - a) * 16000))  # noqa: E731
        return PauseContext(now=now, speech_end=1.0, turn_start=0.5, text="It is done.", audio=audio)

    verdicts = [v for now in np.arange(1.02, 3.2, 0.02) if (v := d.check(at(round(now, 2)))) is not None]
    # checks at 0.3, 0.7, 1.1 and 1.5 s of silence; the one due at 1.9 s would come 0.1 s before
    # the timeout: no model, and the timeout ends the turn at 2.0 s
    assert [round(v.t - 1.0, 2) for v in verdicts] == [0.3, 0.7, 1.1, 1.5, 2.0]
    assert len(calls) == 4 and verdicts[-1].done and verdicts[-1].score is None
    assert worth_checking(1.8, settings) and not worth_checking(1.9, settings)
    assert worth_checking(1.9, settings.model_copy(update={"timeout_margin_s": 0.0}))


def test_hybrid_detector_checks_as_the_pause_grows_and_stops_after_firing() -> None:
    calls: list[int] = []

    def score(audio: np.ndarray) -> float:
        calls.append(len(audio))
        return 0.5

    settings = HybridSettings(threshold=0.9, delay_s=0.2, recheck_s=0.4, max_silence_s=2.0, score_lead_s=0.1)
    d = HybridDetector(score, settings)

    def at(now: float, text: str = "The pharmacy opens at nine.") -> PauseContext:
        return PauseContext(
            now=now, speech_end=1.0, turn_start=0.5, text=text, audio=lambda a, b: np.zeros(16)
        )

    v = d.check(at(1.1))  # the model reads the audio score_lead_s ahead of the check
    assert v is not None and v.ahead and not v.done and len(calls) == 1
    v = d.check(at(1.2))  # the check: the text rules on that score, no model call
    assert v is not None and not v.ahead and not v.done and v.score == 0.5 and len(calls) == 1
    assert d.check(at(1.4)) is None
    assert d.check(at(1.6)) is not None  # the pause grew by recheck_s
    v = d.check(at(3.0))
    assert v is not None and v.done  # max_silence_s reached
    assert d.check(at(3.2)) is None
    assert len(calls) == 2
    d.reset()
    v = d.check(at(1.2, "Yes."))
    assert v is not None and v.done  # closed words, 0.5 >= closed_threshold


def test_a_score_read_ahead_is_not_carried_past_its_check() -> None:
    """Read ahead on neutral words; the words turned open by the check, which skips: the next
    check reads the audio afresh rather than reuse the old score."""
    calls: list[float] = []

    def score(audio: np.ndarray) -> float:
        calls.append(len(audio))
        return 0.95

    settings = HybridSettings(delay_s=0.2, recheck_s=0.4, open_min_silence_s=0.5, score_lead_s=0.1)
    d = HybridDetector(score, settings)

    def at(now: float, text: str) -> PauseContext:
        return PauseContext(
            now=now, speech_end=1.0, turn_start=0.5, text=text, audio=lambda a, b: np.zeros(16)
        )

    assert d.check(at(1.1, "The pharmacy opens")) is not None and len(calls) == 1  # read ahead
    assert d.check(at(1.2, "The pharmacy opens at")) is None  # open words: the check is skipped
    v = d.check(at(1.5, "The pharmacy opens at"))  # the next check's read-ahead
    assert v is not None and v.ahead and len(calls) == 2


def test_a_check_due_while_the_last_words_are_still_being_read_waits_for_them() -> None:
    """Live, the recogniser's reading at the VAD stop takes real time: a check that falls due
    before it is back must not judge the words without their end ("... to have" reads open,
    "... to have a look?" does not)."""
    d = HybridDetector(lambda audio: 0.98, HybridSettings())

    def at(now: float, text: str, pending: bool) -> PauseContext:
        return PauseContext(
            now=now,
            speech_end=1.0,
            turn_start=0.5,
            text=text,
            audio=lambda a, b: np.zeros(16),
            finals_pending=pending,
        )

    assert d.check(at(1.30, "send the technician to have", pending=True)) is None  # due, but waits
    v = d.check(at(1.34, "send the technician to have a look?", pending=False))
    assert v is not None and v.done and v.t == 1.34  # the same check, on the whole words
    d.reset()
    v = d.check(at(3.6, "send the technician to have", pending=True))
    assert v is not None and v.done  # the finals never came: max_silence_s still ends the pause


def test_a_score_offset_moves_every_score_within_0_and_1() -> None:
    from agent.turn.detectors import offset_score

    def score(audio: np.ndarray) -> float:
        return float(audio[0])

    assert offset_score(score, 0.0) is score
    up, down = offset_score(score, 0.03), offset_score(score, -0.03)
    assert [round(up(np.array([p])), 4) for p in (0.0, 0.5, 0.99)] == [0.03, 0.53, 1.0]
    assert [round(down(np.array([p])), 4) for p in (0.01, 0.5, 1.0)] == [0.0, 0.47, 0.97]
