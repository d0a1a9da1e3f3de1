"""Speech synthesis: the bundled Piper voice, with word timings from its phoneme alignments."""
