"""--set overrides: applied with validation, bad ones rejected in one line."""

from __future__ import annotations

import pytest

from agent.settings import Settings, with_overrides


def test_overrides_are_parsed_and_validated() -> None:
    s = with_overrides(Settings(), ["streaming.settle_s=0.4", "barge_in.enabled=false", "detector=silence"])
    assert s.streaming.settle_s == 0.4
    assert s.barge_in.enabled is False
    assert s.detector == "silence"
    assert Settings().streaming.settle_s == 0.0  # the defaults are untouched


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("streaming.nope=1", "no setting 'streaming.nope'"),
        ("nosuch.key=1", "no settings section 'nosuch'"),
        ("streaming.settle_s", "expected section.key=value"),
        ("detector=psychic", "detector"),
        ("streaming.flush_beam_size=0", "flush_beam_size"),
    ],
)
def test_bad_overrides_say_what_is_wrong(item: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as e:
        with_overrides(Settings(), [item])
    assert "\n" not in str(e.value)
