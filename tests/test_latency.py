"""The live-time model: a busy stage delays the next item."""

from __future__ import annotations

import pytest

from agent.latency import Stage


def test_a_stage_is_a_single_server_queue() -> None:
    stage = Stage("asr")
    assert stage.finish(1.0, 0.3) == pytest.approx(1.3)
    # Ready at 1.1 but the stage is busy until 1.3.
    assert stage.finish(1.1, 0.3) == pytest.approx(1.6)
    # Ready long after: no wait.
    assert stage.finish(5.0, 0.1) == pytest.approx(5.1)
    assert stage.compute_seconds == pytest.approx(0.7)
