"""Which words, said while the bot talks, are only a backchannel ("mm-hmm", "right").

A backchannel tells the speaker to go on; it is not a turn. Anything else, including a single
"wait", "no" or "stop", and any sentence, is a real interruption, unless there are more words
than the speech could hold: tiny Whisper models turn a half-second "mm-hmm" into "Hey, I'm up.
Hey, I'm up.", and such a reading is not evidence of anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BACKCHANNELS = frozenset(
    {
        "mm", "mmm", "mhm", "mm-hmm", "mmhmm", "mm-hm", "hmm", "hm", "uh-huh", "uhhuh", "uh", "um",
        "ah", "oh", "yeah", "yep", "yup", "yes", "right", "okay", "ok", "sure", "alright", "i",
        "see", "got", "it", "cool", "great", "nice", "wow", "haha", "ha",
    }
)  # fmt: skip
"""Words that alone or together ("oh okay", "i see", "got it") are only a backchannel."""


def word_key(text: str) -> str:
    """A word as compared with the lists: lower case, no punctuation except inner hyphens."""
    return re.sub(r"[^\w'-]+", "", text.lower()).strip("-'")


def is_backchannel(words: Iterable[str]) -> bool:
    """True when every word is a backchannel word (and there is at least one)."""
    keys = [word_key(w) for w in words]
    keys = [k for k in keys if k]
    return bool(keys) and all(k in BACKCHANNELS for k in keys)


MAX_WORDS_PER_S = 5.0
"""Faster than this (plus one word of slack) is no human speech: fast talkers reach about 4."""


def too_many_words(n_words: int, speech_s: float) -> bool:
    """True when ``n_words`` cannot have been said in ``speech_s`` seconds of voice."""
    return n_words > MAX_WORDS_PER_S * max(speech_s, 0.0) + 1
