"""The streaming recogniser's buffer, prompt and flush, with a scripted stand-in for Whisper."""

from __future__ import annotations

import numpy as np

from agent.asr.streaming import StreamingRecognizer, StreamingSettings
from agent.asr.window_decoder import WindowResult
from agent.events import Word

SR = 16000
SCRIPT = [
    "and",
    "so",
    "my",
    "fellow",
    "americans",
    "ask",
    "not",
    "what",
    "your",
    "country",
    "can",
    "do",
    "for",
    "you.",
    "ask",
    "what",
    "you",
    "can",
    "do",
]


class FakeWhisper:
    """Hears SCRIPT at one word per 0.5 s of absolute time; needs the buffer's start time."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, str]] = []
        self.start = 0.0  # set by the test from the recogniser (media time of the buffer start)

    def __call__(self, audio: np.ndarray, prompt: str) -> WindowResult:
        self.calls.append((len(audio) / SR, prompt))
        end = self.start + len(audio) / SR
        words = [
            Word(w, i * 0.5 - self.start, i * 0.5 + 0.4 - self.start)
            for i, w in enumerate(SCRIPT)
            if i * 0.5 >= self.start - 0.05 and i * 0.5 + 0.4 <= end
        ]
        return WindowResult(words, 0.01, -0.2, False)


def run(seconds: float, settings: StreamingSettings, stop_at: float | None = None):
    fake = FakeWhisper()
    rec = StreamingRecognizer(fake, settings)
    rec.speech_started()
    committed: list[Word] = []
    t = 0.0
    while t < seconds - 1e-9:
        rec.append(np.zeros(320, np.float32))
        t += 0.02
        fake.start = rec.end_time - rec.buffer_seconds
        if rec.due(t):
            committed += rec.update().committed
        assert rec.buffer_seconds <= settings.max_buffer_s + 1e-9
    if stop_at is not None:
        fake.start = rec.end_time - rec.buffer_seconds
        committed += rec.finish(stop_at).committed
    return rec, fake, committed


def test_words_are_committed_once_two_decodes_agree_and_in_order() -> None:
    _, fake, committed = run(6.0, StreamingSettings(chunk_s=0.5, min_decode_s=0))
    texts = [w.text for w in committed]
    assert texts == SCRIPT[: len(texts)]
    assert len(texts) >= 9
    assert len(fake.calls) == 12  # one decode per 0.5 s


def test_finish_commits_the_tail_so_nothing_is_pending() -> None:
    rec, _, committed = run(3.0, StreamingSettings(chunk_s=0.5, min_decode_s=0), stop_at=3.0)
    assert [w.text for w in committed] == SCRIPT[:6]
    assert rec.finish(3.0).committed == []


def test_buffer_is_cut_at_sentence_ends_and_never_passes_its_bound() -> None:
    settings = StreamingSettings(chunk_s=0.5, trim_s=4.0, max_buffer_s=6.0, min_decode_s=0)
    rec, fake, committed = run(9.0, settings)
    assert rec.buffer_seconds <= 6.0
    # After the cut at "you." the prompt holds the committed text before the buffer.
    assert any(prompt.endswith("for you.") for _, prompt in fake.calls)
    assert [w.text for w in committed] == SCRIPT[: len(committed)]


def test_a_long_pause_starts_a_fresh_buffer_a_short_one_keeps_context() -> None:
    settings = StreamingSettings(chunk_s=0.5, context_s=1.0, pre_roll_s=0.3)
    rec = StreamingRecognizer(FakeWhisper(), settings)
    rec.speech_started()
    for _ in range(100):
        rec.append(np.zeros(320, np.float32))
    rec.finish(2.0)
    for _ in range(25):  # 0.5 s of pause: context kept
        rec.append(np.zeros(320, np.float32))
    assert rec.buffer_seconds > 2.0
    for _ in range(50):  # now 1.5 s of pause: cut to the pre-roll
        rec.append(np.zeros(320, np.float32))
    assert abs(rec.buffer_seconds - 0.3) < 0.03


def test_whisper_output_it_calls_non_speech_is_ignored() -> None:
    def noise(audio: np.ndarray, prompt: str) -> WindowResult:
        return WindowResult([Word("Thank", 0.1, 0.3), Word("you.", 0.3, 0.5)], 0.9, -1.5, False)

    rec = StreamingRecognizer(noise, StreamingSettings())
    rec.speech_started()
    rec.append(np.zeros(SR, np.float32))
    rec.update()
    assert rec.finish(1.0).committed == []


def flush_with(
    readings, speech_s: float = 0.8, stop: float = 1.5, heard: list[tuple[float, str]] | None = None
) -> list[Word]:
    """Feed ``speech_s`` of speech (a reading every 0.4 s), then a VAD stop at ``stop``; each
    reading is the next scripted word list. Returns the committed words; ``heard`` collects the
    seconds of audio and the prompt of each reading."""

    def decode(audio: np.ndarray, prompt: str) -> WindowResult:
        if heard is not None:
            heard.append((round(len(audio) / SR, 2), prompt))
        return WindowResult(next(readings), 0.01, -0.2, False)

    rec = StreamingRecognizer(decode, StreamingSettings(chunk_s=0.4, min_decode_s=0))
    rec.speech_started()
    committed = []
    for k in range(1, round(speech_s / 0.02) + 1):
        rec.append(np.zeros(320, np.float32))
        if rec.due(k * 0.02):
            committed += rec.update().committed
    return committed + rec.finish(stop).committed


def scripted_flush(readings) -> list[str]:
    return [w.text for w in flush_with(readings)]


def test_a_flush_reading_that_drops_words_is_not_used() -> None:
    readings = iter(
        [
            [Word("for", 0.1, 0.3), Word("your", 0.4, 0.6), Word("country", 0.7, 1.1)],
            [
                Word("for", 0.1, 0.3),
                Word("your", 0.4, 0.6),
                Word("country", 0.7, 1.2),
                Word("can", 1.25, 1.4),
            ],
            [Word("for", 0.05, 0.2)],  # garbled: stops early; using it would lose "can"
        ]
    )

    # Readings at 0.4 s and 0.8 s; the speech goes on to 1.5 s, so the flush reads once more.
    assert scripted_flush(readings) == ["for", "your", "country", "can"]


def test_no_reading_of_a_buffer_shorter_than_min_decode_s() -> None:
    fake = FakeWhisper()
    rec = StreamingRecognizer(fake, StreamingSettings(chunk_s=0.4, min_decode_s=1.0, pre_roll_s=0.3))
    rec.append(np.zeros(int(0.3 * SR), np.float32))  # the pre-roll
    rec.speech_started()
    t = 0.3
    for _ in range(60):
        rec.append(np.zeros(320, np.float32))
        t += 0.02
        if rec.due(t):
            fake.start = rec.end_time - rec.buffer_seconds
            rec.update()
    assert [round(n, 2) for n, _ in fake.calls] == [1.0, 1.4]  # not before 1 s of buffer


def test_a_flush_reading_that_merges_new_words_into_committed_ones_is_not_used() -> None:
    """Seen on the phone-number scenario: '555.' committed, partial '0123.', then the flush
    reading says '555 -50123.' starting before the committed end; using it would lose '0123'."""
    readings = iter(
        [
            [Word("555", 0.1, 0.9), Word("-0501.", 1.0, 1.2)],
            [Word("555.", 0.1, 0.9), Word("0123.", 1.3, 1.7)],
            [Word("555", 0.1, 0.8), Word("-50123.", 0.8, 1.7)],
        ]
    )

    assert scripted_flush(readings) == ["555.", "0123."]


def test_a_flush_reading_that_swallows_new_words_into_a_committed_one_reads_the_tail_alone() -> None:
    """Seen on the spelled-name scenario: "L" committed, then "S K I" said; the flush reading of
    the whole buffer was one word "Lski." starting where "L" did, so not new, and "K I" were
    lost. The audio after the committed "L" is read on its own instead, with "L." as the prompt."""
    readings = iter(
        [
            [Word("L.", 0.1, 0.6)],
            [Word("L.", 0.1, 0.6)],
            [Word("L.", 0.1, 0.6)],
            [Word("L.", 0.1, 0.6), Word("S.", 0.8, 1.0)],
            [Word("Lski.", 0.1, 1.6)],  # the flush reading of the buffer
            [Word("S", 0.2, 0.4), Word("-K", 0.5, 0.7), Word("-I.", 0.8, 1.0)],  # after 0.6 s only
        ]
    )
    heard: list[tuple[float, str]] = []
    committed = flush_with(readings, speech_s=1.6, stop=1.6, heard=heard)
    assert [w.text for w in committed] == ["L.", "S", "-K", "-I."]
    times = [(round(w.start, 2), round(w.end, 2)) for w in committed[1:]]
    assert times == [(0.8, 1.0), (1.1, 1.3), (1.4, 1.6)]
    assert heard[-1] == (1.0, "L.")


def test_a_tail_read_alone_that_hears_no_more_than_the_partial_is_not_used() -> None:
    """Seen on jfk: the flush reading dropped "country"; the tail read alone said "upgrade" over
    the same audio. It adds nothing, so the partial "country" stands."""
    readings = iter(
        [
            [Word("for", 0.1, 0.3), Word("your", 0.4, 0.6)],
            [Word("for", 0.1, 0.3), Word("your", 0.4, 0.6), Word("country", 0.7, 1.1)],
            [Word("for", 0.1, 0.3)],  # the flush reading drops words
            [Word("upgrade.", 0.1, 0.5)],  # the audio after "your" (0.6 s), read alone
        ]
    )
    assert scripted_flush(readings) == ["for", "your", "country"]


def test_a_regular_reading_that_drops_words_is_not_used() -> None:
    """Seen on jfk: the last reading before the stop squeezed the buffer into fewer words, which
    emptied the tail, and the flush then had nothing left to make final ("country" lost)."""
    readings = iter(
        [
            [Word("for", 0.1, 0.3)],
            [Word("for", 0.1, 0.3), Word("your", 0.4, 0.6), Word("country", 0.65, 1.1)],
            [Word("for", 0.1, 0.3), Word("your", 0.4, 0.6)],  # drops "country"
            [Word("for", 0.1, 0.3)],  # the flush reading is no better
            [],  # nor is a reading of the audio after "for" alone
        ]
    )

    def decode(audio: np.ndarray, prompt: str) -> WindowResult:
        return WindowResult(next(readings), 0.01, -0.2, False)

    rec = StreamingRecognizer(decode, StreamingSettings(chunk_s=0.4, min_decode_s=0))
    rec.speech_started()
    committed = []
    for k in range(1, 61):
        rec.append(np.zeros(320, np.float32))
        if rec.due(k * 0.02):
            committed += rec.update().committed
    committed += rec.finish(1.2).committed
    assert [w.text for w in committed] == ["for", "your", "country"]


def test_the_tail_is_forced_final_only_after_settle_s_without_new_speech() -> None:
    rec = StreamingRecognizer(FakeWhisper(), StreamingSettings(settle_s=0.4))
    rec.speech_started()
    rec.speech_stopped(now=2.0, speech_end=1.8)
    assert rec.flush_due(2.2) is None
    assert rec.flush_due(2.4) == 1.8
    rec.speech_started()  # the speaker went on: the stop is forgotten
    assert rec.flush_due(3.0) is None
    rec.speech_stopped(now=3.5, speech_end=3.3)
    assert rec.flush_due(3.9) == 3.3
    rec.finish(3.3)
    assert rec.flush_due(5.0) is None


def test_settle_zero_flushes_at_the_stop() -> None:
    rec = StreamingRecognizer(FakeWhisper(), StreamingSettings())
    rec.speech_started()
    rec.speech_stopped(now=2.0, speech_end=1.8)
    assert rec.flush_due(2.0) == 1.8


def _speak_pause_speak(settings: StreamingSettings) -> FakeWhisper:
    """Speech 0-4 s (finalised), 2 s of pause, then speech again, read every 0.5 s."""
    fake = FakeWhisper()
    rec = StreamingRecognizer(fake, settings)
    t = 0.0
    for phase, until in (("speech", 4.0), ("pause", 6.0), ("speech", 8.0)):
        if phase == "speech":
            rec.speech_started()
        while t < until - 1e-9:
            rec.append(np.zeros(320, np.float32))
            t += 0.02
            fake.start = rec.end_time - rec.buffer_seconds
            if rec.due(t):
                rec.update()
        if phase == "speech" and until < 8.0:
            rec.finish(until)
    return fake


def test_the_prompt_holds_text_from_before_a_long_pause_only_when_told_to() -> None:
    across = _speak_pause_speak(
        StreamingSettings(chunk_s=0.5, context_s=1.0, min_decode_s=0, prompt_across_pauses=True)
    )
    assert across.calls[-1][1] == "and so my fellow americans ask not what"
    own = _speak_pause_speak(StreamingSettings(chunk_s=0.5, context_s=1.0, min_decode_s=0))
    assert own.calls[-1][1] == ""


def _reading_times(over_bot: bool, bot_starts_at: float | None = None) -> list[float]:
    """Media times of the readings over 3 s of speech (chunk_s 1.0, over_bot_chunk_s 0.4)."""
    times: list[float] = []

    def decode(audio: np.ndarray, prompt: str) -> WindowResult:
        return WindowResult([], 0.01, -0.2, False)

    rec = StreamingRecognizer(decode, StreamingSettings(chunk_s=1.0, over_bot_chunk_s=0.4, min_decode_s=0))
    rec.speech_started(over_bot=over_bot)
    for k in range(1, 151):
        t = round(k * 0.02, 2)
        rec.append(np.zeros(320, np.float32))
        if bot_starts_at is not None and abs(t - bot_starts_at) < 1e-9:
            rec.bot_started()
        if rec.due(t):
            times.append(t)
            rec.update()
    return times


def test_speech_alone_is_read_every_chunk_s_and_speech_over_the_bot_every_over_bot_chunk_s() -> None:
    assert _reading_times(over_bot=False) == [1.0, 2.0, 3.0]
    assert _reading_times(over_bot=True) == [0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8]
    # The bot began talking while the user spoke: from then on, the faster cadence.
    assert _reading_times(over_bot=False, bot_starts_at=1.5) == [1.0, 1.5, 1.9, 2.3, 2.7]


def test_a_flush_reading_with_no_new_word_reads_the_speech_after_the_committed_words() -> None:
    """Seen on the spelled-name scenario at a 1 s reading interval: "L" committed, then "S K I"
    said in under a second, so no reading came before the VAD stop and nothing was pending; the
    flush reading "Lski." is not new by time. The audio after "L" is read alone, as when a
    partial was pending, so "S K I" are not lost."""
    readings = iter(
        [
            [Word("L.", 0.1, 0.6)],
            [Word("L.", 0.1, 0.6)],
            [Word("Lski.", 0.1, 1.6)],  # the flush reading of the buffer: nothing new by time
            [Word("S", 0.2, 0.4), Word("-K", 0.5, 0.7), Word("-I.", 0.8, 1.0)],  # after 0.6 s only
        ]
    )

    def decode(audio: np.ndarray, prompt: str) -> WindowResult:
        return WindowResult(next(readings), 0.01, -0.2, False)

    rec = StreamingRecognizer(decode, StreamingSettings(chunk_s=0.4, min_decode_s=0))
    rec.speech_started()
    committed: list[Word] = []
    for k in range(1, 41):  # 0.8 s: two readings agree on "L."
        rec.append(np.zeros(320, np.float32))
        if rec.due(k * 0.02):
            committed += rec.update().committed
    for _ in range(40):  # 0.8 s more, too short for a reading at this cadence
        rec.append(np.zeros(320, np.float32))
    assert [w.text for w in committed] == ["L."]
    committed += rec.finish(1.6).committed
    assert [w.text for w in committed] == ["L.", "S", "-K", "-I."]
