"""What the words so far say about whether the user is done: a few cheap, readable rules.

``text_cue(text)`` returns ``"open"`` when the sentence is grammatically unfinished (it ends in
"and", "for", "the", "my number is", a subject pronoun with no verb after it, a digit group of
an incomplete phone-number length, a spelled letter), ``"question"`` when it asks something,
``"closed"`` when it is a complete short answer ("yes", "okay", a phone number), and
``"neutral"`` otherwise.

Questions and short answers are told apart because they hand the floor over differently. A
question asks the listener to speak next. A short answer or acknowledgement often ends a turn
too, but just as often opens the next sentence of the same speaker ("Okay. [pause] So the next
thing is..."), so the hybrid may weigh it less. The hybrid detector weighs the cue against the
acoustic model. English only.

When the user cut in on the bot, words that only take the floor ("wait", "no", "hold on",
"actually") are open too: "Wait, [pause] what about holidays?" is the usual shape of an
interruption, and "Wait." alone gives the LLM nothing to answer.
"""

from __future__ import annotations

import re
from typing import Literal

Cue = Literal["open", "closed", "question", "neutral"]

# Words after which an English sentence cannot end (words that often end one, such as
# "that", "this", "her" or "no", are left out).
_OPEN_ENDINGS = {
    # conjunctions and connectives
    "and",
    "or",
    "but",
    "so",
    "because",
    "if",
    "when",
    "while",
    "although",
    "which",
    "who",
    "where",
    "whether",
    "than",
    "like",
    "plus",
    # prepositions
    "for",
    "to",
    "at",
    "in",
    "on",
    "with",
    "of",
    "from",
    "about",
    "into",
    "by",
    "after",
    "before",
    "between",
    "under",
    "over",
    "through",
    "near",
    "around",
    "via",
    "per",
    # determiners and possessives
    "a",
    "an",
    "the",
    "my",
    "your",
    "our",
    "his",
    "their",
    "its",
    "some",
    "any",
    "every",
    "each",
    "another",
    # verbs and auxiliaries that need a complement
    "is",
    "are",
    "was",
    "were",
    "am",
    "be",
    "been",
    "being",
    "have",
    "has",
    "had",
    "do",
    "does",
    "did",
    "will",
    "would",
    "can",
    "could",
    "should",
    "shall",
    "may",
    "might",
    "must",
    "want",
    "need",
    "get",
    "got",
    "going",
    "gonna",
    "wanna",
    "let",
    "let's",
    "i'm",
    "it's",
    "i'd",
    "i'll",
    "we're",
    "you're",
    "they're",
    "he's",
    "she's",
    "there's",
    "that's",
    "what's",
    "you'll",
    "we'll",
    "they'll",
    "he'll",
    "she'll",
    "you'd",
    "we'd",
    "they'd",
    "i've",
    "you've",
    "we've",
    "they've",
    # hesitations
    "um",
    "uh",
    "er",
    "erm",
    "uhm",
    "hmm",
    # spoken address and number parts
    "street",
    "apartment",
    "suite",
    "unit",
    "number",
    "code",
    "extension",
    "dot",
}
# Words open only after a connective: "and then" goes on, "see you then" is done.
_OPEN_AFTER_CONNECTIVE = {"then"}
_CONNECTIVES = {"and", "or", "but", "so"}
# A sentence cannot end on its subject ("...and then I", "so we"), unless an auxiliary or a
# comparison comes before it: "so do I", "neither can we", "taller than he".
_SUBJECT_PRONOUNS = {"i", "we", "they", "he", "she"}
_BEFORE_A_FINAL_SUBJECT = {
    *("do", "does", "did", "am", "is", "are", "was", "were", "have", "has", "had"),
    *("can", "could", "will", "would", "shall", "should", "may", "might", "must"),
    *("than", "as"),
}
# A single number after these is a time or a quantity that ends the sentence: "move it to 5".
_NUMBER_PREPOSITIONS = {"at", "to", "by", "until", "till", "around", "about", "from", "after", "before"}
# Complete short answers.
_CLOSED_ANSWERS = {
    "yes",
    "no",
    "yeah",
    "yep",
    "nope",
    "sure",
    "okay",
    "ok",
    "right",
    "correct",
    "exactly",
    "thanks",
    "thank you",
    "that's right",
    "that is right",
    "that's all",
    "that is all",
    "nothing else",
    "goodbye",
    "bye",
    "please",
    "of course",
    "not really",
    "i don't know",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "none",
}
# Words that may open a short answer before another one: "yes, that is right", "no, thank you".
_ANSWER_OPENERS = {"yes", "yeah", "yep", "no", "nope", "okay", "ok", "sure", "right"}
_QUESTION_START = re.compile(
    r"^(what|when|where|who|why|how|which|can|could|would|will|do|does|did|is|are|should)\b"
)
_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "for": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_COMPLETE_NUMBER_LENGTHS = {7, 10, 11}  # phone numbers; a shorter digit group may go on


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _trailing_digits(words: list[str]) -> int:
    """How many digits the text ends with (spoken or written: "4 1 5", "four one five", "415")."""
    count = 0
    for w in reversed(words):
        if w.isdigit():
            count += len(w)
        elif (w in _DIGITS and w not in ("for", "o", "oh")) or (w in ("o", "oh") and count):
            count += 1
        else:
            break
    return count


def _trailing_letters(words: list[str]) -> int:
    count = 0
    for w in reversed(words):
        if len(w) == 1 and w.isalpha() and w not in ("a", "i"):
            count += 1
        else:
            break
    return count


def _after_preposition(words: list[str]) -> bool:
    return len(words) > 1 and words[-2] in _NUMBER_PREPOSITIONS


_FLOOR_TAKING = {
    "wait",
    "hold",
    "hang",
    "on",
    "no",
    "nope",
    "stop",
    "actually",
    "sorry",
    "excuse",
    "me",
    "hey",
}


def text_cue(text: str, cut_in: bool = False) -> Cue:
    """Whether ``text`` (the user's words so far in this turn) reads as unfinished or complete;
    ``cut_in``: the user began while the bot was talking."""
    stripped = text.strip()
    words = _words(stripped)
    if not words:
        return "neutral"
    if cut_in and all(w in _FLOOR_TAKING for w in words):
        return "open"
    phrase = " ".join(words)
    if words[-1] in _OPEN_ENDINGS and phrase not in _CLOSED_ANSWERS:
        return "open"
    if words[-1] in _OPEN_AFTER_CONNECTIVE and len(words) > 1 and words[-2] in _CONNECTIVES:
        return "open"
    if words[-1] in _SUBJECT_PRONOUNS and not (len(words) > 1 and words[-2] in _BEFORE_A_FINAL_SUBJECT):
        return "open"
    if stripped.endswith((",", "-", "...", "…")):
        return "open"
    digits = _trailing_digits(words)
    if digits == 1 and (not words[-1].isdigit() or _after_preposition(words)):
        digits = 0  # one number ends many sentences ("it opens at nine", "move it to 5")
    if digits and len(words) == 1:
        return "closed"  # a bare number as the whole answer ("Two.", "415")
    if digits:
        return "closed" if digits in _COMPLETE_NUMBER_LENGTHS or digits > 11 else "open"
    if _trailing_letters(words) >= 1:
        return "open"  # spelling a word out, letter by letter
    last = _words(_last_sentence(stripped))
    sentence = " ".join(last)
    if _short_answer(last):
        return "closed"
    if stripped.endswith("?") or (_QUESTION_START.match(sentence) and len(last) >= 3):
        return "question"
    return "neutral"


def _short_answer(words: list[str]) -> bool:
    """A complete short answer: one of ``_CLOSED_ANSWERS``, maybe after words that open one
    ("yes, that is right", "no, thank you", "okay, bye"); "yes, and the other one" is not."""
    for i in range(len(words)):
        if " ".join(words[i:]) in _CLOSED_ANSWERS:
            return all(w in _ANSWER_OPENERS for w in words[:i])
    return False


def _last_sentence(text: str) -> str:
    """The text after its last sentence break: how a turn ends is in its last sentence ("Can you
    remind me, I don't have to tick it. It takes a while." asks nothing at its end)."""
    pieces = [p for p in re.split(r"(?<=[.?!])\s+", text) if _words(p)]
    return pieces[-1] if pieces else text
