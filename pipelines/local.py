"""The offline pipeline, replayed: scripted scenarios through the core on the media clock.

Silero VAD -> Whisper (LocalAgreement-2) -> hybrid end-of-turn (smart-turn + the finals' words)
-> scripted or OpenAI-compatible replies -> Piper -> the speaker, fed in lockstep by the replay
runner (:mod:`agent.replay`), every model from a PyPI package. ``python -m pipelines.local PATH``
is ``agent replay PATH``.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from pipelines.cli import main

    sys.exit(main(["replay", *sys.argv[1:]]))
