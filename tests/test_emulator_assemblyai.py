"""The AssemblyAI v3 emulator, driven by the official SDK client over loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from assemblyai.streaming.v3 import (
    AsyncRealTimeTranscriber,
    RealTimeEvents,
    RealTimeParameters,
    RealTimeTranscriberOptions,
    TurnEvent,
)
from websockets.asyncio.server import serve

from agent.cloud.emulator.assemblyai import AssemblyAIEmulator, checked
from agent.cloud.emulator.faults import Faults, parse_range
from agent.cloud.engine import EndOfTurn, LocalTurnEngine
from agent.media import SAMPLE_RATE, to_pcm16

CHUNK = 800  # 50 ms, as AssemblyAI asks


def utterance(voice, text: str) -> np.ndarray:
    speech = voice.synthesize(text).audio
    quiet = np.zeros(SAMPLE_RATE // 2, np.float32)
    return np.concatenate([quiet, speech, np.zeros(3 * SAMPLE_RATE, np.float32)])


async def session(
    replayer,
    audio: np.ndarray,
    api_key: str = "test-key",
    faults: Faults | None = None,
    realtime: bool = False,
    **params: Any,
):
    """Stream ``audio`` through the SDK to a fresh emulator (as fast as it goes, or paced in real
    time); returns the events by type."""
    faults = faults or Faults()
    emulator = AssemblyAIEmulator(replayer.models, replayer.settings, faults, api_key="test-key")
    got: dict[str, list[Any]] = {"Begin": [], "Turn": [], "Termination": [], "Error": []}

    async def keep(kind: str, _client: Any, event: Any) -> None:
        got[kind].append(event)

    async with serve(emulator.handle, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = AsyncRealTimeTranscriber(
            RealTimeTranscriberOptions(api_host=f"ws://127.0.0.1:{port}", api_key=api_key)
        )
        for kind in got:
            client.on(RealTimeEvents[kind], lambda c, e, k=kind: keep(k, c, e))
        await client.connect(RealTimeParameters(sample_rate=SAMPLE_RATE, **params))
        for i in range(0, len(audio), CHUNK):
            await client.stream(to_pcm16(audio[i : i + CHUNK]))
            await asyncio.sleep(CHUNK / SAMPLE_RATE if realtime else 0)
        await client.disconnect(terminate=True)
    return got


def test_turns_from_the_sdk_match_the_local_path(voice, replayer) -> None:
    text = "What time does the pharmacy open tomorrow?"
    audio = utterance(voice, text)
    got = asyncio.run(session(replayer, audio, format_turns=True))
    assert len(got["Begin"]) == 1 and len(got["Termination"]) == 1
    turns: list[TurnEvent] = got["Turn"]
    assert turns and all(isinstance(t, TurnEvent) for t in turns)  # parsed by the SDK's models
    ends = [t for t in turns if t.end_of_turn]
    formatted = [t for t in ends if t.turn_is_formatted]
    assert len(formatted) == 1 and formatted[0].turn_order == 0
    # Partials carry non-final words; transcript holds only the final ones.
    for t in turns:
        finals = [w.text for w in t.words if w.word_is_final]
        assert t.transcript == " ".join(finals)
    # The same words, and the same end, as our own engine on the same audio.
    engine = LocalTurnEngine(replayer.models, replayer.settings)
    local: list[EndOfTurn] = []
    for i in range(0, len(audio), CHUNK):
        local += [e for e in engine.feed(audio[i : i + CHUNK]) if isinstance(e, EndOfTurn)]
    assert len(local) == 1
    assert formatted[0].transcript == " ".join(w.text for w in local[0].words)
    last_word_end = formatted[0].words[-1].end / 1000
    assert last_word_end < local[0].t  # the turn ended after the speech, not before


def test_a_wrong_key_is_refused_with_the_providers_code(voice, replayer) -> None:
    audio = np.zeros(SAMPLE_RATE, np.float32)
    got = asyncio.run(session(replayer, audio, api_key="wrong"))
    assert got["Begin"] == [] and got["Turn"] == []
    assert any(getattr(e, "code", None) == 4001 and "Not Authorized" in str(e) for e in got["Error"])


def test_faults_reach_the_client_as_the_provider_would_send_them(replayer) -> None:
    audio = np.zeros(4 * SAMPLE_RATE, np.float32)
    got = asyncio.run(session(replayer, audio, faults=Faults(error_at=1.0)))
    assert any("Emulated server error" in str(e) for e in got["Error"])
    got = asyncio.run(session(replayer, audio, faults=Faults(drop_every=(1.0, 1.5)), realtime=True))
    assert got["Termination"] == []  # the connection died 1-1.5 s in, without a goodbye
    assert got["Error"]  # and the SDK said so


def test_messages_are_checked_against_the_sdk_models() -> None:
    checked({"type": "Begin", "id": "x", "expires_at": 1})
    with pytest.raises(ValueError):
        checked({"type": "Turn", "turn_order": 0})  # missing fields


def test_drop_ranges_parse_and_refuse_nonsense() -> None:
    assert parse_range("5-10") == (5.0, 10.0)
    with pytest.raises(ValueError, match="MIN-MAX"):
        parse_range("soon")
    with pytest.raises(ValueError, match="0 < MIN <= MAX"):
        parse_range("10-5")
