"""The emulators' engine reads an utterance the same way when a reconnecting client sends it again."""

from __future__ import annotations

import numpy as np

from agent.cloud.engine import LocalTurnEngine, Words
from agent.media import SAMPLE_RATE, on_grid


def finals(
    engine: LocalTurnEngine, audio: np.ndarray, sizes: list[int], offset: float
) -> list[tuple[str, float]]:
    """The final words (text, media end) of ``audio`` fed in pieces of the given sizes in turn."""
    out: dict[float, str] = {}
    i = k = 0
    while i < len(audio):
        n = sizes[k % len(sizes)]
        for e in engine.feed(audio[i : i + n]):
            if isinstance(e, Words):
                out.update({round(w.end + offset, 4): w.text for w in e.final})
        i, k = i + n, k + 1
    return [(text, end) for end, text in sorted(out.items())]


def test_an_utterance_sent_again_from_a_grid_point_reads_the_same(voice, replayer) -> None:
    quiet = np.zeros(SAMPLE_RATE, np.float32)
    first = voice.synthesize("I would like to book a table for four people.").audio
    second = voice.synthesize("My number is four one five, five five five.").audio
    audio = np.concatenate([quiet, first, quiet, quiet, second, quiet, quiet])
    onset = (2 * len(quiet) + len(first)) / SAMPLE_RATE

    whole = finals(LocalTurnEngine(replayer.models, replayer.settings), audio, [320], 0.0)
    resent_from = on_grid(onset - 0.5)
    cut = round(resent_from * SAMPLE_RATE)
    # A new session, the audio in other pieces (as a replay burst sends it).
    again = finals(
        LocalTurnEngine(replayer.models, replayer.settings), audio[cut:], [1600, 700, 2240], resent_from
    )

    later = [w for w in whole if w[1] > onset]
    assert len(later) >= 4 and later == again
