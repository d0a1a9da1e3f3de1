"""End-of-turn evaluation manifests: pauses labelled "hold" (the speaker goes on) or "eot".

A manifest is JSON lines::

    {"audio": "trn00.wav", "pause_start": 12.3, "pause_end": 13.1, "label": "hold", "turn_start": 9.8}

``audio`` is relative to the manifest; ``turn_start`` (optional) is where the current speaker's
turn began (audio before it belongs to someone else); ``cut_in`` (optional, false) says the turn
began while the bot was talking; other fields are ignored. For ``eot`` the pause runs to the next
speaker or the end of the file.

:func:`from_rttm` builds one from speaker segments: a silence inside one speaker's speech that
the same speaker ends is ``hold``; one another speaker ends is ``eot``; pauses where someone else
talks are skipped. Silences inside one segment count too: an RTTM segment often spans a
speaker's whole turn (29 s in one AMI excerpt), so the VAD finds the pauses inside it::

    A  ====  ==|..|==.....        ====   A's pause ended by A: hold (between or inside segments)
    B                    =====           A's pause ended by B: eot (turn_start: A's first ====)
"""

from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

MIN_HOLD_S = 0.2
"""Shorter silences are below what a VAD reports as a pause: not an end-of-turn question."""


@dataclass(frozen=True)
class Item:
    """One pause to judge."""

    audio: str
    pause_start: float
    pause_end: float
    label: Literal["hold", "eot"]
    turn_start: float | None = None
    cut_in: bool = False

    def as_json(self, folder: Path | None = None) -> str:
        """One manifest line; with ``folder``, an absolute audio path made relative to it."""
        fields = {k: v for k, v in asdict(self).items() if v is not None and v is not False}
        if folder is not None and Path(self.audio).is_absolute():
            fields["audio"] = os.path.relpath(self.audio, folder.resolve())
        return json.dumps(fields)


def write_manifest(items: list[Item], path: Path) -> None:
    """Save items as a manifest. Absolute audio paths are written relative to the manifest's
    folder; relative ones are taken to be relative to it already."""
    path.write_text("".join(i.as_json(path.parent) + "\n" for i in items))


class ManifestError(ValueError):
    """A manifest line that cannot be used: file, line number and what is wrong."""


def load_manifest(path: Path) -> list[Item]:
    """Read a JSON-lines manifest; audio paths become absolute (relative to the manifest)."""
    items = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise ManifestError(f"{path}: cannot read ({e.strerror})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            label = raw["label"]
            if label not in ("hold", "eot"):
                raise ValueError(f"label must be 'hold' or 'eot', not {label!r}")
            item = Item(
                audio=str((path.parent / raw["audio"]).resolve()),
                pause_start=float(raw["pause_start"]),
                pause_end=float(raw["pause_end"]),
                label=label,
                turn_start=float(raw["turn_start"]) if raw.get("turn_start") is not None else None,
                cut_in=bool(raw.get("cut_in", False)),
            )
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}:{n}: not JSON ({e.msg})") from None
        except KeyError as e:
            raise ManifestError(f"{path}:{n}: missing field {e.args[0]!r}") from None
        except (TypeError, ValueError) as e:
            raise ManifestError(f"{path}:{n}: {e}") from None
        if item.pause_end < item.pause_start:
            raise ManifestError(f"{path}:{n}: pause_end is before pause_start")
        if not Path(item.audio).is_file():
            raise ManifestError(f"{path}:{n}: audio file not found: {item.audio}")
        items.append(item)
    if not items:
        raise ManifestError(f"{path}: no items")
    return items


Segment = tuple[float, float, str]  # start, end, speaker


def read_rttm(path: Path) -> dict[str, list[Segment]]:
    """Speaker segments per file from an RTTM file (SPEAKER lines)."""
    files: dict[str, list[Segment]] = defaultdict(list)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        try:
            start, dur = float(parts[3]), float(parts[4])
            files[parts[1]].append((start, start + dur, parts[7]))
        except (IndexError, ValueError):
            raise ManifestError(f"{path}:{n}: not an RTTM SPEAKER line") from None
    return {k: sorted(v) for k, v in files.items()}


def _merge(segments: list[Segment]) -> list[Segment]:
    """Merge each speaker's touching or overlapping segments."""
    out: list[Segment] = []
    for spk in sorted({s for _, _, s in segments}):
        mine = sorted((a, b) for a, b, s in segments if s == spk)
        for a, b in mine:
            if out and out[-1][2] == spk and a <= out[-1][1] + 1e-6:
                out[-1] = (out[-1][0], max(out[-1][1], b), spk)
            else:
                out.append((a, b, spk))
    return sorted(out)


Span = tuple[float, float]


def pauses(
    segments: list[Segment], file_end: float, silences: Sequence[Span] = ()
) -> list[tuple[float, float, str, float]]:
    """(pause_start, pause_end, label, turn_start) for one file's segments.

    ``silences``: where the VAD hears no voice in the file. Those of at least ``MIN_HOLD_S``
    that lie inside one speaker's segment, with no one else's segment over them, are holds.
    """
    segs = _merge(segments)
    out = []
    for a, b, spk in segs:
        for x, y in silences:
            inside = a < x and y < b and y - x >= MIN_HOLD_S
            if inside and not any(s != spk and p < y and x < q for p, q, s in segs):
                out.append((x, y, "hold", _turn_start(segs, spk, a)))
        if b >= file_end - 0.05:
            continue  # cut off by the end of the excerpt, not a pause
        others = [(x, y) for x, y, s in segs if s != spk]
        if any(x < b < y for x, y in others):
            continue  # someone else is talking as this speaker stops
        next_same = min((x for x, _, s in segs if s == spk and x > b), default=None)
        next_other = min((x for x, _ in others if x >= b), default=None)
        turn_start = _turn_start(segs, spk, a)
        if next_same is not None and (next_other is None or next_same <= next_other):
            if next_same - b >= MIN_HOLD_S:
                out.append((b, next_same, "hold", turn_start))
        else:
            out.append((b, next_other if next_other is not None else file_end, "eot", turn_start))
    return out


def _turn_start(segs: list[Segment], spk: str, start: float) -> float:
    """Where the speaker's turn that contains the segment starting at ``start`` began: go back
    over the speaker's own segments until someone else spoke in between."""
    turn = start
    while True:
        before = [x for x in segs if x[1] <= turn + 1e-6 and x[0] < turn]
        if not before:
            return turn
        last = max(before, key=lambda x: x[1])
        someone_else = any(s != spk and x < turn and y > last[1] for x, y, s in segs)
        if last[2] != spk or someone_else:
            return turn
        turn = last[0]


def from_rttm(rttm: Path, audio_dir: Path, durations: dict[str, float]) -> list[Item]:
    """Manifest items for every file of an RTTM whose audio is in ``audio_dir``."""
    items = []
    for name, segments in sorted(read_rttm(rttm).items()):
        audio = (audio_dir / f"{name}.wav").resolve()
        if name not in durations:
            continue
        spans, _ = voice_spans(audio)
        silences = [(end, nxt) for (_, end), (nxt, _) in itertools.pairwise(spans)]
        for start, end, label, turn_start in sorted(pauses(segments, durations[name], silences)):
            kind: Literal["hold", "eot"] = "hold" if label == "hold" else "eot"
            items.append(Item(str(audio), round(start, 3), round(end, 3), kind, round(turn_start, 3)))
    return items


def from_utterances(files: list[Path]) -> list[Item]:
    """Manifest items from recordings that each hold one complete turn (read sentences, say):
    the silences the VAD finds inside a recording are holds, its last speech end is an eot.

    Pauses shorter than ``MIN_HOLD_S`` are skipped, as in :func:`from_rttm`.
    """
    items = []
    for path in (f.resolve() for f in files):
        spans, file_end = voice_spans(path)
        if not spans:
            continue
        start = round(spans[0][0], 3)
        for (_, end), (nxt, _) in itertools.pairwise(spans):
            if nxt - end >= MIN_HOLD_S:
                items.append(Item(str(path), round(end, 3), round(nxt, 3), "hold", start))
        items.append(Item(str(path), round(spans[-1][1], 3), round(file_end, 3), "eot", start))
    return items


def voice_spans(path: Path) -> tuple[list[Span], float]:
    """The stretches of voice the live VAD finds in a recording, and its length (s)."""
    from agent.media import SAMPLE_RATE, load_audio
    from agent.vad import SileroVoice, VadSegmenter, VadSettings

    audio = load_audio(path)
    length = len(audio) / SAMPLE_RATE
    voice = SileroVoice()
    n = voice.window_samples
    segmenter = VadSegmenter(VadSettings(), n / SAMPLE_RATE)
    spans: list[Span] = []
    for i in range(0, len(audio) - n + 1, n):
        event = segmenter.feed((i + n) / SAMPLE_RATE, voice.confidence(audio[i : i + n]))
        if event is not None and event.kind == "start":
            spans.append((event.edge, length))
        elif event is not None and spans:
            spans[-1] = (spans[-1][0], event.edge)
    return spans, length
