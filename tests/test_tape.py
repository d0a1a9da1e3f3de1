"""Tape lines: what goes in comes out, and a bad line names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cloud.provider import CloudAlive, CloudClosed, CloudTurn, CloudWords
from agent.cloud.tape import TapeError, TapeProvider, TapeWriter, load_tape
from agent.events import Word


def test_events_round_trip_and_come_out_at_their_media_time(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TapeWriter(path)
    words = CloudWords((Word("hello", 0.5, 0.8, 0.9),), (Word("there", 0.8, 1.0, 0.4),))
    writer.write(1.2, words)
    writer.write(1.3, CloudAlive())  # heartbeats carry nothing: not recorded
    writer.write(2.0, CloudTurn("end", 0, 0.87))
    writer.write(2.5, CloudClosed("dropped"))
    writer.close()
    records = load_tape(path)
    assert [t for t, _ in records] == [1.2, 2.0, 2.5]
    assert records[0][1] == words and records[1][1] == CloudTurn("end", 0, 0.87)
    tape = TapeProvider(records)
    tape.advance(1.19)
    assert tape.events.empty()
    tape.advance(2.6)
    got = [tape.events.get_nowait() for _ in range(tape.events.qsize())]
    assert got == [words, CloudTurn("end", 0, 0.87)]  # drops are not replayed


def test_a_bad_line_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"t": 1.0, "turn": {"kind": "end", "index": 0}}\n{"t": "soon"}\n')
    with pytest.raises(TapeError, match=r"bad.jsonl:2: not a tape line") as e:
        load_tape(path)
    assert "\n" not in str(e.value)
