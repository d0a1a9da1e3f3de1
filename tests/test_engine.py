"""The emulators' engine reads a run of speech the same way when a reconnecting client sends it again."""

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


def test_a_run_of_speech_sent_again_from_a_grid_point_reads_the_same(voice, replayer) -> None:
    """A run is speech with pauses shorter than ``streaming.context_s`` (3 s): the recogniser
    reads it with its own earlier words as context, and nothing from before the run."""
    quiet = np.zeros(SAMPLE_RATE, np.float32)
    first = voice.synthesize("I would like to book a table for four people.").audio
    second = voice.synthesize("My number is four one five, five five five.").audio
    third = voice.synthesize("And the name is Kowalski.").audio
    parts = [quiet, first, quiet, second, quiet, quiet, quiet, quiet, third, quiet, quiet]
    audio = np.concatenate(parts)
    starts = np.cumsum([0] + [len(p) for p in parts]) / SAMPLE_RATE
    run_onsets = [starts[1], starts[8]]  # "first" (with "second" 1 s after it), then "third"

    whole = finals(LocalTurnEngine(replayer.models, replayer.settings), audio, [320], 0.0)
    for onset, until in zip(run_onsets, [starts[4], starts[-1]], strict=True):
        resent_from = on_grid(onset - replayer.settings.cloud.replay_margin_s)
        cut = round(resent_from * SAMPLE_RATE)
        # A new session, the audio in other pieces (as a replay burst sends it).
        again = finals(
            LocalTurnEngine(replayer.models, replayer.settings), audio[cut:], [1600, 700, 2240], resent_from
        )
        expected = [w for w in whole if onset < w[1] <= until]
        assert len(expected) >= 4 and [w for w in again if w[1] <= until] == expected
