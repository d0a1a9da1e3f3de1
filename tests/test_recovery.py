"""Agreement across a lost session: what is made final, and what never is."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.cloud.recovery import agreed_words, fresh_words, longer
from agent.events import Word


def reading(text: str, start: float = 0.0, step: float = 0.3) -> tuple[Word, ...]:
    return tuple(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(text.split()))


def texts(words: list[Word]) -> list[str]:
    return [w.text for w in words]


def test_the_common_prefix_after_the_finals_is_agreed() -> None:
    dropped = reading("my line drops every evening at ar")
    current = reading("my line drops every evening around eight and comes back")
    assert texts(agreed_words(dropped, current, after=0.6)) == ["drops", "every", "evening"]


def test_a_replayed_reading_passes_on_only_what_is_not_final_yet() -> None:
    last = Word("Great.", 17.22, 17.98)
    replayed = (Word("great", 17.70, 18.30), Word("see", 18.44, 18.50), Word("you", 18.5, 18.68))
    assert texts(fresh_words(replayed, after=17.98, tail=(last,))) == ["see", "you"]
    # the same text said again after the last final ended is a new word
    again = (Word("great", 18.10, 18.50), Word("see", 18.6, 18.7))
    assert texts(fresh_words(again, after=17.98, tail=(last,))) == ["great", "see"]
    # a word mostly before the last final's end was passed on already, whatever its text
    early = (Word("grape", 17.30, 17.90), Word("see", 18.44, 18.50))
    assert texts(fresh_words(early, after=17.98, tail=(last,))) == ["see"]


def test_a_replay_that_reads_the_last_final_as_another_word_adds_nothing() -> None:
    """Seen with drops on the emulators: "S K" final, then the replay heard "s chaos"."""
    last = Word("K", 3.58, 3.74)
    replayed = (Word("s", 3.20, 3.40), Word("chaos", 3.58, 3.96), Word("i", 4.10, 4.30))
    assert texts(fresh_words(replayed, after=3.74, tail=(last,))) == ["i"]
    # a new word that merely touches the last final's end is passed on
    touching = (Word("i", 3.70, 4.10),)
    assert texts(fresh_words(touching, after=3.74, tail=(last,))) == ["i"]


def test_a_last_final_squeezed_to_no_duration_is_not_passed_on_twice() -> None:
    """Seen on Flux with drops: "restarted the" made final by agreement, the "the" at 9.94-9.94
    (the end of the dropped session's audio); the next reading has "the" at 9.94-10.08."""
    last = Word("the", 9.94, 9.94)
    replayed = (Word("the", 9.94, 10.08), Word("router", 10.08, 10.32))
    assert texts(fresh_words(replayed, after=9.94, tail=(last,))) == ["router"]


def test_the_last_final_read_again_after_the_same_word_is_not_passed_on_twice() -> None:
    """Seen on Flux with drops (07, seed 16): "restarted the" agreed, its "the" at 9.86-9.92;
    the next reading re-timed it to 9.94-10.10, after its own "restarted", and "restarted the
    the router" was passed on. A "the" after the reading's own first "the" is a second one."""
    tail = (Word("restarted", 9.38, 9.86), Word("the", 9.86, 9.92))
    replayed = (Word("restarted", 9.38, 9.90), Word("the", 9.94, 10.10), Word("router", 10.10, 10.40))
    assert texts(fresh_words(replayed, after=9.92, tail=tail)) == ["router"]
    twice = (Word("restarted", 9.38, 9.80), Word("the", 9.80, 9.90), *replayed[1:])
    assert texts(fresh_words(twice, after=9.92, tail=tail)) == ["the", "router"]
    dropped = (*replayed[:2], Word("router", 10.10, 10.36), Word("twice", 10.4, 10.7))
    current = (*replayed, Word("twice", 10.4, 10.7), Word("and", 10.7, 11.0))
    assert texts(agreed_words(dropped, current, after=9.92, tail=tail)) == ["router"]


def test_a_squeezed_last_final_read_again_a_little_later_is_not_passed_on_twice() -> None:
    """Seen on Flux after a stall: "what is on my" agreed with "my" at 1.86-1.86; the next
    agreed reading had "my" at 1.92-2.12, and "my my calendar" was passed on."""
    last = Word("my", 1.86, 1.86)
    replayed = (Word("my", 1.92, 2.12), Word("calendar", 2.22, 2.44))
    assert texts(fresh_words(replayed, after=1.86, tail=(last,))) == ["calendar"]
    whole = Word("my", 1.70, 1.86)  # a last word with its own length: a later "my" is new
    assert texts(fresh_words(replayed, after=1.86, tail=(whole,))) == ["my", "calendar"]


def test_punctuation_and_case_do_not_matter_but_times_do() -> None:
    dropped = reading("Hello, there. How are")
    current = reading("hello there how are you doing")
    assert texts(agreed_words(dropped, current, after=0.0)) == ["hello", "there", "how"]
    moved = reading("hello there how are you doing", start=0.4)
    assert agreed_words(dropped, moved, after=0.0) == []


def test_readings_of_the_same_audio_prove_nothing() -> None:
    same = reading("one two three four")
    assert agreed_words(same, same, after=0.0) == []


def test_the_shorter_readings_last_word_is_not_taken() -> None:
    dropped = reading("please send a technician")
    current = reading("please send a technician to have a look")
    assert texts(agreed_words(dropped, current, after=0.0)) == ["please", "send", "a"]
    # and the other way round: the new session was lost sooner than the old one
    assert texts(agreed_words(current, dropped, after=0.0)) == ["please", "send", "a"]


def test_the_furthest_reading_is_kept() -> None:
    a, b = reading("one two"), reading("one two three")
    assert longer(a, b) == b and longer(b, a) == b and longer((), a) == a


words = st.sampled_from(["a", "b", "c"])


@given(st.lists(words, max_size=8), st.lists(words, max_size=8), st.floats(0, 3))
def test_agreed_words_are_a_prefix_of_both_readings_after_the_finals(
    x: list[str], y: list[str], after: float
) -> None:
    old, new = reading(" ".join(x)), reading(" ".join(y))
    agreed = agreed_words(old, new, after)
    fresh_old = [w for w in old if (w.start + w.end) / 2 > after]
    fresh_new = [w for w in new if (w.start + w.end) / 2 > after]
    assert agreed == fresh_new[: len(agreed)]
    assert texts(agreed) == texts(fresh_old[: len(agreed)])
    assert len(agreed) < max(1, min(len(fresh_old), len(fresh_new)))


def test_the_last_final_word_read_again_later_is_not_taken_twice() -> None:
    last = Word("o", 5.86, 5.98)
    dropped = (Word("o", 5.94, 6.08), Word("'clock", 6.08, 6.38), Word("and", 6.4, 6.6), Word("co", 6.6, 6.7))
    current = (*dropped[:3], Word("comes", 6.6, 6.9), Word("back", 6.9, 7.3))
    assert texts(agreed_words(dropped, current, after=5.98, tail=(last,))) == ["'clock", "and"]
    assert texts(agreed_words(dropped, current, after=5.98)) == ["o", "'clock", "and"]
