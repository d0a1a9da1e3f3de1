"""The barge-in state machine, driven with plain timestamps through every transition."""

from __future__ import annotations

from agent.bargein.backchannel import is_backchannel, too_many_words
from agent.bargein.controller import BargeInController, BargeInEvent, BargeInSettings
from agent.events import Word

W = 0.032  # one VAD window


def voice(c: BargeInController, start: float, end: float, conf: float = 0.9) -> list[BargeInEvent]:
    """Windows of ``conf`` from ``start`` to ``end``; returns every event they caused."""
    out: list[BargeInEvent] = []
    t = start
    while t + W <= end + 1e-9:
        t += W
        out += c.voice(t, W, conf)
    return out


def speaking(settings: BargeInSettings | None = None) -> BargeInController:
    c = BargeInController(settings or BargeInSettings())
    c.bot_started(0.0)
    return c


def actions(events: list[BargeInEvent]) -> list[str]:
    return [e.action for e in events]


def test_voice_pauses_the_bot_within_one_window_and_keeps_the_onset() -> None:
    c = speaking()
    events = voice(c, 1.0, 1.2)
    assert actions(events) == ["pause"]
    assert events[0].onset == 1.0
    assert events[0].t - events[0].onset <= W + 1e-9
    assert c.state == "paused"


def test_a_voiced_window_shorter_than_pause_after_s_does_not_pause() -> None:
    c = speaking(BargeInSettings(pause_after_s=2 * W))
    assert voice(c, 1.0, 1.0 + W) == []
    assert voice(c, 1.0 + W, 1.5, conf=0.1) == []
    assert c.state == "speaking"


def test_voice_while_the_bot_is_quiet_is_not_a_barge_in() -> None:
    c = BargeInController(BargeInSettings())
    assert voice(c, 0.0, 1.0) == []
    c.bot_started(2.0)
    c.bot_finished(3.0)
    assert voice(c, 3.0, 4.0) == []
    assert c.state == "quiet"


def test_disabled_never_pauses() -> None:
    c = speaking(BargeInSettings(enabled=False))
    assert voice(c, 1.0, 3.0) == []


def test_committed_real_words_interrupt() -> None:
    c = speaking()
    voice(c, 1.0, 1.3)
    c.speech_started(1.2)
    events = c.final([Word("Wait,", 1.0, 1.3)], 1.5)
    assert actions(events) == ["interrupt"]
    assert events[0].words == ("Wait,",)
    assert c.state == "quiet"


def test_single_command_words_interrupt() -> None:
    for word in ("No.", "stop", "Actually,", "wait"):
        c = speaking()
        voice(c, 1.0, 1.3)
        assert actions(c.final([Word(word, 1.0, 1.3)], 1.5)) == ["interrupt"], word


def test_long_speech_interrupts_without_words() -> None:
    c = speaking(BargeInSettings(confirm_speech_s=1.0))
    events = voice(c, 1.0, 2.1)
    assert actions(events) == ["pause", "interrupt"]
    assert events[1].reason == "long speech"
    assert events[1].t - events[1].onset >= 1.0 - 1e-9


def test_backchannel_resumes_after_the_flush() -> None:
    c = speaking()
    voice(c, 1.0, 1.5)
    c.speech_started(1.2)
    voice(c, 1.5, 1.7, conf=0.0)
    assert c.final([Word("Mm-hmm.", 1.0, 1.5)], 1.8) == []  # heard, but not yet known complete
    events = c.flushed(1.8)
    assert actions(events) == ["backchannel", "resume"]
    assert events[1].words == ("Mm-hmm.",)
    assert c.state == "speaking"


def test_backchannel_word_followed_by_a_sentence_interrupts() -> None:
    c = speaking()
    voice(c, 1.0, 1.5)
    c.speech_started(1.2)
    assert c.final([Word("Okay,", 1.0, 1.3)], 1.6) == []
    assert actions(c.final([Word("and", 1.4, 1.5), Word("is", 1.5, 1.6)], 2.0)) == ["interrupt"]


def test_noise_without_a_speech_segment_resumes_after_quiet() -> None:
    s = BargeInSettings(resume_silence_s=0.5)
    c = speaking(s)
    voice(c, 1.0, 1.15)  # a short burst: the VAD never confirms a segment
    events = voice(c, 1.15, 2.0, conf=0.0)
    assert actions(events) == ["resume"]
    assert events[0].reason == "noise"
    assert events[0].t >= 1.15 + 0.5 - 1e-9


def test_open_segment_waits_for_the_flush_then_times_out() -> None:
    s = BargeInSettings(resume_silence_s=0.5, resume_after_s=2.0)
    c = speaking(s)
    voice(c, 1.0, 1.4)
    c.speech_started(1.2)
    assert voice(c, 1.4, 3.0, conf=0.0) == []  # quiet, but the flush has not come back
    assert c.tick(3.0) == []
    events = c.tick(3.41)
    assert actions(events) == ["resume"]
    assert events[0].reason == "timeout"


def test_words_from_before_the_pause_do_not_count() -> None:
    c = speaking()
    voice(c, 5.0, 5.2)
    assert c.final([Word("earlier", 3.0, 3.4)], 5.3) == []
    assert c.state == "paused"


def test_second_interruption_during_resumed_speech() -> None:
    c = speaking()
    voice(c, 1.0, 1.3)
    c.speech_started(1.2)
    voice(c, 1.3, 1.6, conf=0.0)
    c.final([Word("Uh-huh.", 1.0, 1.3)], 1.6)
    assert actions(c.flushed(1.6)) == ["backchannel", "resume"]
    # The bot talks again; the user now really cuts in.
    events = voice(c, 2.5, 2.8)
    assert actions(events) == ["pause"]
    assert events[0].onset == 2.5
    c.speech_started(2.7)
    assert actions(c.final([Word("Hold", 2.5, 2.7), Word("on", 2.7, 2.8)], 3.2)) == ["interrupt"]
    assert c.state == "quiet"
    # A new reply can be barged in on again.
    c.bot_started(5.0)
    assert actions(voice(c, 6.0, 6.1)) == ["pause"]


def test_more_words_than_the_voice_could_hold_are_no_reason_to_stop() -> None:
    c = speaking()
    voice(c, 1.0, 1.5)
    c.speech_started(1.2)
    voice(c, 1.5, 1.7, conf=0.0)
    hallucination = [Word(w, 1.0, 1.4) for w in ["Hey,", "I'm", "up.", "Hey,", "I'm", "up."]]
    assert c.final(hallucination, 1.7) == []
    events = c.flushed(1.7)
    assert actions(events) == ["resume"] and events[0].reason == "unreadable"


def test_words_whisper_doubts_are_no_reason_to_stop() -> None:
    c = speaking()
    voice(c, 1.0, 1.5)
    c.speech_started(1.2)
    voice(c, 1.5, 1.7, conf=0.0)
    doubtful = [Word("And", 1.0, 1.2, p=0.27), Word("then", 1.2, 1.3, p=0.55), Word("mom.", 1.3, 1.4, p=0.35)]
    assert c.final(doubtful, 1.7) == []
    assert [e.reason for e in c.flushed(1.7)] == ["unreadable"]
    c2 = speaking()
    voice(c2, 1.0, 1.5)
    sure = [Word("Hold", 1.0, 1.2, p=0.9), Word("on", 1.2, 1.3, p=0.55)]
    assert actions(c2.final(sure, 1.6)) == ["interrupt"]


def test_backchannel_list() -> None:
    assert is_backchannel(["Mm-hmm."])
    assert is_backchannel(["Oh", "okay."])
    assert is_backchannel(["Yeah,", "right."])
    assert not is_backchannel(["No."])
    assert not is_backchannel(["Wait"])
    assert not is_backchannel(["Okay,", "and", "parking?"])
    assert not is_backchannel([])
    assert too_many_words(6, 0.5) and not too_many_words(2, 0.5) and not too_many_words(5, 1.9)
