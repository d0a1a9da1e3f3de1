"""The VAD hysteresis, driven with plain timestamps."""

from __future__ import annotations

from agent.vad import VadSegmenter, VadSettings

W = 0.032


def run(confidences: list[float], **kw: float) -> list[tuple[str, float, float]]:
    seg = VadSegmenter(VadSettings(**kw), W)
    out = []
    for i, c in enumerate(confidences):
        e = seg.feed((i + 1) * W, c)
        if e is not None:
            out.append((e.kind, round(e.t, 3), round(e.edge, 3)))
    return out


def test_start_needs_start_secs_of_speech_and_reports_the_onset() -> None:
    conf = [0.0] * 5 + [0.9] * 10
    # 0.2 s / 32 ms -> 6 windows; onset is the start of window 5 (0.16 s).
    assert run(conf) == [("start", round(11 * W, 3), 0.16)]


def test_short_blips_do_not_start() -> None:
    assert run([0.0, 0.9, 0.9, 0.0, 0.9, 0.0] * 5) == []


def test_stop_needs_stop_secs_of_silence_and_reports_the_speech_end() -> None:
    conf = [0.9] * 10 + [0.1] * 10
    events = run(conf)
    assert events[0][0] == "start"
    assert events[1] == ("stop", round(16 * W, 3), round(10 * W, 3))


def test_a_dip_shorter_than_stop_secs_keeps_speaking() -> None:
    conf = [0.9] * 10 + [0.1] * 3 + [0.9] * 10 + [0.1] * 10
    kinds = [e[0] for e in run(conf)]
    assert kinds == ["start", "stop"]
