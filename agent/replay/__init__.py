"""Scripted scenario replays: scenario files, audio assembly, the media-clock runner, metrics."""
