"""One truth for replay and evaluation: does ``agent eot-eval`` fire where the replay's own turn
controller did?

A replay writes its pauses (``OUT/eot_manifest.jsonl``: true pauses inside turns are holds, each
turn's end an eot) and what its controller did (``OUT/<scenario>/timeline.json``). For each pause
the replay *fired* at the silence of the first ``turn_end`` inside it (none: it held); the
evaluation fires where its detector at the same settings does on the pause's evidence. They agree
when both hold, or both fire within one 0.1 s step of each other::

    pause        |~~~~~~~~~~ eot ~~~~~~~~~~
    replay          ^turn_end at 0.32 s of silence (the check due at 0.3 s, on a 20 ms tick)
    evaluation      ^0.3 s (the same check, on the same audio and words)   -> agree

Where they differ, the reason is said when it is one of two the evaluation cannot know of by
design, since it judges each pause of a true turn afresh: ``other_turn`` (the replay's own turn
here began elsewhere than the true turn, more than 0.3 s apart: it had ended a turn inside this
one, or had missed the end of the one before, so it judged other words and audio) and
``no_vad_stop`` (the replay's VAD never heard the speech end: no detector was asked). One more
is named but is not by design: ``other_words``, the replay's recogniser made other words final
for the turn than the evaluation's run of the same recogniser over the same samples. (It showed
"5." against the replay's "M5." under a loud room tone while the evaluation fed the recogniser
floats, which moved most samples by one 16-bit step; it now feeds the samples themselves.)
Anything else is ``unexplained``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.eot.evaluate import FireTime
from agent.eot.evidence import Evidence

STEP_TOLERANCE_S = 0.1 + 1e-6


@dataclass(frozen=True)
class Agreement:
    """One pause: where the replay fired and where the evaluation did (None: it held)."""

    scenario: str
    label: str
    pause_start: float
    length: float
    replay_s: float | None
    eval_s: float | None
    text: str
    reason: str = ""

    @property
    def agrees(self) -> bool:
        if self.replay_s is None or self.eval_s is None:
            return self.replay_s is None and self.eval_s is None
        return abs(self.replay_s - self.eval_s) <= STEP_TOLERANCE_S

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "label": self.label,
            "pause_start": self.pause_start,
            "replay_s": self.replay_s,
            "eval_s": self.eval_s,
            "agrees": self.agrees,
            "reason": self.reason,
            "text": self.text,
        }


def replay_fire(events: list[dict[str, Any]], pause_start: float, pause_end: float) -> float | None:
    """Silence at the replay's first turn end inside a pause (None: it did not end the turn there)."""
    t = next((e["t"] for e in events if e["type"] == "turn_end" and pause_start <= e["t"] < pause_end), None)
    return None if t is None else round(t - pause_start, 3)


def compare(evidence: list[Evidence], fire: FireTime) -> list[Agreement]:
    """Each pause of a replay's manifest: the replay's firing (from the timeline beside each
    scenario's ``heard.wav``) against the evaluation's at ``fire``."""
    timelines: dict[str, list[dict[str, Any]]] = {}
    out = []
    for e in evidence:
        folder = Path(e.item.audio).parent
        key = str(folder)
        if key not in timelines:
            timelines[key] = json.loads((folder / "timeline.json").read_text())["events"]
        at = fire(e)
        held = at >= e.length - 1e-9
        events = timelines[key]
        a = Agreement(
            scenario=folder.name,
            label=e.item.label,
            pause_start=e.item.pause_start,
            length=round(e.length, 3),
            replay_s=replay_fire(events, e.item.pause_start, e.item.pause_end),
            eval_s=None if held else at,
            text=e.text,
        )
        out.append(a if a.agrees else replace(a, reason=_why(events, e)))
    return out


def _why(events: list[dict[str, Any]], e: Evidence) -> str:
    heard = any(
        ev["type"] == "vad_stop" and abs(float(ev["speech_end"]) - e.item.pause_start) < 1e-3 for ev in events
    )
    if not heard:
        return "no_vad_stop"
    starts = [
        float(ev.get("onset", ev["t"]))
        for ev in events
        if ev["type"] == "turn_start" and ev["t"] < e.item.pause_start
    ]
    own = e.item.turn_start if e.item.turn_start is not None else e.item.pause_start
    if starts and abs(starts[-1] - own) > 0.3:
        return "other_turn"
    if _replay_words(events, e) != _words(e.text):
        return "other_words"
    return "unexplained"


def _words(text: str) -> list[str]:
    return [w.strip(".,?!").lower() for w in text.split()]


def _replay_words(events: list[dict[str, Any]], e: Evidence) -> list[str]:
    """The words the replay's recogniser had made final for this turn by the pause's end."""
    start = e.item.turn_start if e.item.turn_start is not None else e.item.pause_start - 25.0
    return _words(
        " ".join(
            w["w"]
            for ev in events
            if ev["type"] == "final" and ev["t"] <= e.item.pause_end
            for w in ev["words"]
            if w["end"] > start and w["start"] < e.item.pause_start + 0.05
        )
    )
