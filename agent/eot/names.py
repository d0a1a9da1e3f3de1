"""The end-of-turn detectors that ``agent eot-eval`` scores and ``agent compare`` replays."""

DETECTOR_NAMES = ("silence", "smart-turn", "hybrid")
