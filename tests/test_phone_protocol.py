"""The phone path's pure parts: stream start, tokens, admission, TwiML, signatures, G.711, playout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.phone.desk import CallDesk, PhoneSettings
from agent.phone.g711 import Downsampler, Upsampler, ulaw_decode, ulaw_encode
from agent.phone.playout import Playout
from agent.phone.protocol import ProtocolError, Tokens, decode, parse_start
from agent.phone.twiml import busy_answer, read_answer, signature, signed, stream_answer, websocket_url

START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": "MZ1",
    "start": {
        "streamSid": "MZ1",
        "accountSid": "AC1",
        "callSid": "CA1",
        "tracks": ["inbound"],
        "customParameters": {"token": "t0k"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    },
}


def test_a_start_message_gives_the_stream_and_its_parameters() -> None:
    start = parse_start(START)
    assert (start.stream_sid, start.call_sid, start.account_sid) == ("MZ1", "CA1", "AC1")
    assert start.parameters == {"token": "t0k"}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"event": "media"}, "expected 'start'"),
        ({"start": {**START["start"], "callSid": ""}}, "no callSid"),  # type: ignore[dict-item]
        (
            {"start": {**START["start"], "mediaFormat": {"encoding": "audio/l16", "sampleRate": 16000}}},
            "mulaw",
        ),  # type: ignore[dict-item]
    ],
)
def test_a_bad_start_is_refused_in_one_line(change: dict, said: str) -> None:
    with pytest.raises(ProtocolError, match=said):
        parse_start({**START, **change})


@pytest.mark.parametrize("raw", [b"\x00\x01", "not json", "[1, 2]", '{"no": "event"}'])
def test_garbage_is_no_message(raw: str | bytes) -> None:
    with pytest.raises(ProtocolError):
        decode(raw)


def test_a_token_is_good_once_for_its_own_call_and_not_after_it_expires() -> None:
    tokens = Tokens(ttl_s=30.0)
    a = tokens.issue("CA1", now=100.0)
    assert not tokens.redeem(a, "CA2", now=101.0)  # another call's stream
    assert tokens.redeem(a, "CA1", now=101.0)
    assert not tokens.redeem(a, "CA1", now=102.0)  # used
    b = tokens.issue("CA3", now=100.0)
    assert not tokens.redeem(b, "CA3", now=131.0)  # expired
    assert not tokens.redeem("made-up", "CA1", now=101.0)


def test_the_desk_counts_calls_on_their_way_and_refuses_past_the_limit() -> None:
    desk = CallDesk(max_calls=2, settings=PhoneSettings())
    first = desk.admit("CA1", now=0.0)
    assert first is not None and desk.admit("CA2", now=0.0) is not None
    assert desk.admit("CA3", now=0.0) is None  # two on their way fill both lines
    start = parse_start({**START, "start": {**START["start"], "customParameters": {"token": first}}})
    desk.open(start, now=1.0)
    assert desk.active == 1 and desk.admit("CA4", now=1.0) is None
    desk.close("CA1", {"events": []})
    assert desk.record("CA1") == {"events": []}
    assert desk.admit("CA5", now=2.0) is not None
    desk.draining = True
    assert desk.admit("CA6", now=2.0) is None and desk.health(now=2.0)["status"] == "draining"


def test_a_stream_without_its_token_is_not_let_in() -> None:
    desk = CallDesk(max_calls=2, settings=PhoneSettings())
    with pytest.raises(ProtocolError, match="no valid token"):
        desk.open(parse_start(START), now=0.0)


def test_twiml_answers_read_back_as_twilio_reads_them() -> None:
    answer = read_answer(stream_answer("wss://bot.example/ws", {"token": "abc", "scenario": "x"}))
    assert answer.stream_url == "wss://bot.example/ws"
    assert answer.parameters == {"token": "abc", "scenario": "x"}
    busy = read_answer(busy_answer("All lines are busy."))
    assert busy.stream_url is None and busy.hangup and busy.said == "All lines are busy."
    assert websocket_url("https://bot.example/base/", "/ws") == "wss://bot.example/base/ws"
    assert websocket_url("http://127.0.0.1:8080", "/ws") == "ws://127.0.0.1:8080/ws"


def test_a_signature_holds_for_its_url_parameters_and_token_only() -> None:
    url, params = "https://bot.example/twiml?scenario=x", {"CallSid": "CA1", "From": "+1500"}
    sig = signature("secret", url, params)
    assert signed("secret", url, params, sig)
    assert not signed("secret", url, params, None)
    assert not signed("other", url, params, sig)
    assert not signed("secret", url, {**params, "From": "+1666"}, sig)
    assert not signed("secret", "https://bot.example/twiml", params, sig)


def test_g711_codes_the_reference_values_and_resamples_in_step() -> None:
    assert ulaw_encode(np.array([0.0, 1.0, -1.0])) == bytes([0xFF, 0x80, 0x00])
    levels = ulaw_decode(bytes(range(256)))
    assert np.all(np.abs(ulaw_decode(ulaw_encode(levels)) - levels) < 1e-6)  # codes are fixed points
    up, down = Upsampler(), Downsampler()
    t = np.arange(8000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sizes = [len(down(tone[i : i + 320])) for i in range(0, 8000, 320)]
    assert set(sizes) == {160}  # 20 ms in, 20 ms out: no lumps
    assert {len(up(np.zeros(160, np.float32))) for _ in range(5)} == {320}


def test_playout_echoes_a_mark_once_the_audio_before_it_has_played() -> None:
    p = Playout()
    p.receive_audio(np.ones(480, np.float32), t=1.0)
    p.receive_mark("1")
    p.receive_audio(np.ones(320, np.float32), t=1.0)
    p.receive_mark("2")
    heard, echoes = p.play(320, t=1.02)
    assert heard.sum() == 320 and echoes == []
    _, echoes = p.play(320, t=1.04)
    assert [e.name for e in echoes] == ["1"] and not echoes[0].cleared
    _, echoes = p.play(320, t=1.06)
    assert [e.name for e in echoes] == ["2"]


def test_a_clear_drops_the_audio_and_echoes_every_mark_still_queued() -> None:
    p = Playout()
    p.receive_audio(np.ones(320, np.float32), t=1.0)
    p.receive_mark("1")
    p.receive_audio(np.ones(960, np.float32), t=1.0)
    p.receive_mark("2")
    p.receive_mark("3")
    _, echoes = p.play(320, t=1.02)
    assert [e.name for e in echoes] == ["1"]
    cleared = p.clear(t=1.04)
    assert [(e.name, e.cleared) for e in cleared] == [("2", True), ("3", True)]
    heard, echoes = p.play(320, t=1.06)
    assert heard.sum() == 0 and echoes == []
    assert [e["type"] for e in p.events] == ["bot_audio_start", "bot_audio_stop"]
    assert p.events[-1].get("interrupted") is True


def test_a_stretch_of_bot_audio_ends_only_after_a_gap() -> None:
    p = Playout(gap_s=0.1)
    for k in range(10):  # 20 ms frames, one late by 40 ms: still one stretch
        p.play(320, t=0.5 + 0.02 * k)
        if k != 4:
            p.receive_audio(np.ones(320, np.float32), t=0.52 + 0.02 * k)
    for k in range(10, 20):
        p.play(320, t=0.5 + 0.02 * k)
    assert [(e["type"], e["t"]) for e in p.events] == [("bot_audio_start", 0.52), ("bot_audio_stop", 0.72)]
    assert p.speech_started_at == 0.52 and p.last_stop == 0.72 and not p.speaking


def test_a_message_json_round_trip_keeps_the_start_shape() -> None:
    assert parse_start(decode(json.dumps(START))).call_sid == "CA1"


def test_the_telephone_line_keeps_the_voice_band_and_drops_what_a_phone_cannot_carry() -> None:
    from agent.phone.g711 import TelephoneLine

    t = np.arange(16000) / 16000
    for hz, kept in ((1000, True), (6000, False)):
        line = TelephoneLine()
        tone = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        out = np.concatenate([line(tone[i : i + 320]) for i in range(0, 16000, 320)])
        rms = float(np.sqrt(np.mean(out[1600:] ** 2)))
        assert (abs(rms - 0.354) < 0.02) if kept else rms < 0.01, (hz, rms)
