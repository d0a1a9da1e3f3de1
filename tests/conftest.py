"""Shared fixtures. Real models are loaded once per test session (a few seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from loguru import logger

logger.remove()
logger.add(sys.stderr, level="WARNING")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def voice():
    from agent.tts.piper_voice import PiperSynth

    return PiperSynth()


@pytest.fixture(scope="session")
def replayer():
    from agent.replay.runner import Replayer
    from agent.settings import Settings

    return Replayer(Settings())


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    return _write


@pytest.fixture(scope="session")
def local_words(replayer, tmp_path_factory) -> list[str]:
    """The finals' words of the cloud tests' scenario on the local recogniser."""
    import asyncio

    from agent.replay.scenario import load_scenario
    from tests.cloud_helpers import SCENARIO, words

    path = tmp_path_factory.mktemp("cloud") / "two_turns.yaml"
    path.write_text(SCENARIO)
    return words(asyncio.run(replayer.run(load_scenario(path))).timeline.events)
