"""LocalAgreement-2, driven with plain word lists."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.asr.local_agreement import LocalAgreement, drop_repeats, norm
from agent.events import Word


def hyp(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    return [Word(w, start + i * step, start + i * step + 0.3) for i, w in enumerate(text.split())]


def texts(words) -> list[str]:
    return [w.text for w in words]


def test_commits_the_common_prefix_of_two_hypotheses() -> None:
    la = LocalAgreement()
    assert la.insert(hyp("and so my")) == []  # nothing to agree with yet
    assert texts(la.insert(hyp("and so my fellow"))) == ["and", "so", "my"]
    assert texts(la.partial) == ["fellow"]
    assert texts(la.insert(hyp("and so my fellow americans ask knot"))) == ["fellow"]
    assert texts(la.insert(hyp("and so my fellow americans ask not what"))) == ["americans", "ask"]
    assert texts(la.partial) == ["not", "what"]
    assert texts(la.committed) == ["and", "so", "my", "fellow", "americans", "ask"]


def test_agreement_ignores_case_and_punctuation_and_keeps_the_newest_form() -> None:
    la = LocalAgreement()
    la.insert(hyp("hello there"))
    assert texts(la.insert(hyp("Hello, there."))) == ["Hello,", "there."]


def test_repeated_words_at_the_seam_are_not_committed_twice() -> None:
    la = LocalAgreement()
    la.insert(hyp("one two three"))
    la.insert(hyp("one two three"))
    assert texts(la.committed) == ["one", "two", "three"]
    # The buffer was cut; the new hypothesis repeats "two three" with shifted times.
    again = [Word("two", 0.75, 1.0), Word("three", 1.05, 1.2), Word("four", 1.3, 1.5)]
    la.insert(again)
    assert texts(la.insert([*again, Word("five", 1.6, 1.8)])) == ["four"]
    assert texts(la.committed) == ["one", "two", "three", "four"]


def test_a_seam_said_twice_is_dropped_once_more() -> None:
    """Tiny models repeat the committed end at a new buffer's start: "for you for you"."""
    la = LocalAgreement()
    la.insert(hyp("can do for you"))
    la.insert(hyp("can do for you"))
    twice = [
        Word(w, 1.6 + 0.2 * i, 1.75 + 0.2 * i) for i, w in enumerate(["for", "you", "for", "you", "ask"])
    ]
    assert la.after_committed(twice)[0].text == "ask"
    # A single repeated word may be real ("no, no"): only two or more are dropped the second time.
    once = [Word(w, 1.6 + 0.2 * i, 1.75 + 0.2 * i) for i, w in enumerate(["you", "you", "ask"])]
    assert texts(la.after_committed(once)) == ["you", "ask"]


def test_a_repeat_inside_one_hypothesis_is_not_kept_as_the_tail() -> None:
    la = LocalAgreement()
    la.insert(hyp("for you"))
    assert texts(la.insert(hyp("for you for you"))) == ["for", "you"]
    assert la.partial == []


def test_a_reading_with_collapsed_times_still_extends_the_tail_by_text() -> None:
    la = LocalAgreement()
    la.insert(hyp("can do", start=2.0))
    la.insert([*hyp("can do", start=2.0), Word("for", 2.8, 3.0), Word("your", 3.0, 3.2)])
    assert texts(la.committed) == ["can", "do"] and texts(la.partial) == ["for", "your"]
    squeezed = [Word("your", 0.0, 2.2), Word("country.", 2.2, 3.3)]  # times collapsed
    assert la.after_committed(squeezed) == []  # by time, nothing is new
    added = la.continue_tail(squeezed)
    assert texts(added) == ["country."]
    assert added[0].start >= 3.2  # kept after the tail
    assert texts(la.finalize()) == ["for", "your", "country."]


def test_a_reading_that_does_not_continue_the_text_adds_nothing() -> None:
    la = LocalAgreement()
    la.insert(hyp("one two three"))
    assert la.continue_tail(hyp("seven eight")) == []
    assert texts(la.partial) == ["one", "two", "three"]


def test_finalize_commits_the_tail_without_agreement() -> None:
    la = LocalAgreement()
    la.insert(hyp("my number is"))
    assert texts(la.finalize()) == ["my", "number", "is"]
    assert la.partial == []
    assert la.finalize() == []


VOCAB = ["yes", "no", "four", "one", "five", "street", "the", "a", "maple"]


@st.composite
def hypothesis_streams(draw):
    """Successive hypotheses for a growing buffer: noisy versions of one true word sequence."""
    true = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12))
    stream = []
    for _ in range(draw(st.integers(1, 10))):
        n = draw(st.integers(0, len(true)))
        words = []
        for i in range(n):
            text = true[i] if draw(st.booleans()) or draw(st.booleans()) else draw(st.sampled_from(VOCAB))
            jitter = draw(st.floats(-0.05, 0.05))
            words.append(Word(text, i * 0.5 + jitter, i * 0.5 + 0.4 + jitter))
        stream.append(words)
    return stream


@settings(max_examples=300, deadline=None)
@given(
    stream=hypothesis_streams(),
    finalize_at=st.integers(-1, 10),
    cut_at=st.integers(-1, 10),
    cut=st.floats(0, 6),
)
def test_property_ledger_is_append_only_and_needs_two_agreeing_hypotheses(
    stream, finalize_at, cut_at, cut
) -> None:
    """Words are committed only by two agreeing hypotheses, or by an explicit finalize (the
    speaker stopped: all of the tail; the audio is cut: only words that end before the cut)."""
    la = LocalAgreement()
    previous_tail: list[Word] = []
    for k, words in enumerate(stream):
        before = list(la.committed)
        commit = la.insert(words)
        after = list(la.committed)
        # Append-only: the old ledger is an untouched prefix of the new one.
        assert after[: len(before)] == before
        assert after[len(before) :] == commit
        # Each committed word is, position by position, in the previous hypothesis' uncommitted
        # tail and in this hypothesis: two consecutive hypotheses agreed on it.
        assert len(commit) <= len(previous_tail)
        for i, word in enumerate(commit):
            assert norm(previous_tail[i].text) == norm(word.text)
            assert word in words
        previous_tail = la.partial
        if k == cut_at:
            before = list(la.committed)
            forced = la.finalize(until=cut)
            assert all(w.end <= cut for w in forced)
            assert forced == previous_tail[: len(forced)]
            assert list(la.committed) == before + forced
            previous_tail = la.partial
        if k == finalize_at:
            before = list(la.committed)
            tail = la.finalize()
            assert list(la.committed) == before + tail
            previous_tail = []


def _words(text: str) -> list[Word]:
    return [Word(t, i * 0.3, i * 0.3 + 0.25) for i, t in enumerate(text.split())]


def test_a_phrase_said_twice_in_a_row_is_a_loop_and_loses_its_copy() -> None:
    def kept(text: str) -> str:
        return " ".join(w.text for w in drop_repeats(_words(text)))

    assert kept("Yes, that is right. Yes, that is right.") == "Yes, that is right."
    assert kept("Actually, I meant next Friday. Actually, I meant next Friday. not tomorrow.") == (
        "Actually, I meant next Friday. not tomorrow."
    )
    assert kept("Thank you. Thank you.") == "Thank you."
    # Numbers and single words may well be said twice.
    assert kept("5 5 5 5 0 1 2 3") == "5 5 5 5 0 1 2 3"
    assert kept("No, no, stop.") == "No, no, stop."
    assert kept("I said that I said") == "I said that I said"
    # ... unless the copy of a single word takes no time: a loop squeezed to nothing.
    squeezed = [Word("Great.", 17.86, 18.62), Word("Great.", 18.94, 18.94), Word("See", 19.08, 19.14)]
    assert [w.text for w in drop_repeats(squeezed)] == ["Great.", "See"]
    digits = [Word("5", 1.0, 1.2), Word("5", 1.3, 1.3)]
    assert [w.text for w in drop_repeats(digits)] == ["5", "5"]


def test_a_seam_found_by_text_keeps_a_word_whose_time_moved_back() -> None:
    """'The' committed at 5.0-5.6 s; the next reading puts 'The' at 4.9-5.45 and 'explorers'
    at 5.45-5.6: by time 'explorers' looks committed already, by text it comes next."""
    la = LocalAgreement()
    la.insert([Word("lobe.", 4.0, 4.5), Word("The", 5.0, 5.6), Word("explorer...", 5.6, 6.0)])
    assert [
        w.text
        for w in la.insert([Word("lobe.", 4.0, 4.5), Word("The", 5.0, 5.6), Word("explorers", 5.6, 6.1)])
    ] == [
        "lobe.",
        "The",
    ]
    reading = [Word("The", 4.9, 5.45), Word("explorers", 5.45, 5.6), Word("and", 5.65, 5.8)]
    assert [w.text for w in la.insert(reading)] == ["explorers"]
    assert [w.text for w in la.partial] == ["and"]
