"""``agent eot-eval``: command-line front of the end-of-turn evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import soundfile as sf

from agent.eot.evaluate import DETECTORS, HOLD_SPAN_S, Evidence, gather, scored_holds, summarize, sweep
from agent.eot.manifest import Item, ManifestError, from_rttm, from_utterances, load_manifest, write_manifest
from agent.options import add_set_option
from agent.turn.text_cues import text_cue


def add_parser(sub: Any) -> None:
    e = sub.add_parser("eot-eval", help="end-of-turn detectors on labelled pauses, knobs swept")
    e.add_argument("manifest", type=Path, nargs="?", help="JSON-lines manifest of pauses")
    e.add_argument("--from-rttm", type=Path, help="build the manifest from speaker segments")
    e.add_argument("--audio-dir", type=Path, help="with --from-rttm: folder of <file>.wav")
    e.add_argument(
        "--from-utterances",
        type=Path,
        nargs="+",
        help="build the manifest from recordings of one complete turn each (VAD pauses: hold; end: eot)",
    )
    e.add_argument("--write-manifest", type=Path, help="with --from-...: also save the manifest")
    e.add_argument("--detector", action="append", choices=sorted(DETECTORS), help="detectors (default: all)")
    e.add_argument("--json", type=Path, help="write the figures here")
    e.add_argument(
        "--evidence",
        type=Path,
        help="sweep again from the pauses a previous --json holds (no model is run)",
    )
    add_set_option(e)


def _items(args: argparse.Namespace) -> list[Item]:
    if args.from_utterances:
        items = from_utterances(args.from_utterances)
        if args.write_manifest:
            write_manifest(items, args.write_manifest)
        return items
    if args.from_rttm:
        if not args.audio_dir:
            raise ManifestError("--from-rttm needs --audio-dir")
        durations = {p.stem: sf.info(str(p)).duration for p in args.audio_dir.glob("*.wav")}
        items = from_rttm(args.from_rttm, args.audio_dir, durations)
        if args.write_manifest:
            write_manifest(items, args.write_manifest)
        return items
    if not args.manifest:
        raise ManifestError("give a manifest, or --from-rttm RTTM --audio-dir DIR")
    return load_manifest(args.manifest)


def eot_eval(args: argparse.Namespace) -> int:
    from agent.asr.whisper_model import WhisperRecognizer
    from agent.settings import Settings, with_overrides
    from agent.turn.smart_turn import SmartTurnModel

    try:
        settings = with_overrides(Settings(), args.set)
        if args.evidence:
            evidence, score_ms = load_evidence(args.evidence)
            items = [e.item for e in evidence]
        else:
            items = _items(args)
    except (ManifestError, OSError, ValueError, KeyError) as e:
        print(f"agent: {e}", file=sys.stderr)
        return 2
    if not args.evidence:
        model = SmartTurnModel(graph=settings.smart_turn.graph)
        whisper = WhisperRecognizer(settings.whisper)

        def transcribe(audio: Any) -> str:
            return " ".join(w.text for w in whisper.decode_window(audio).words)

        evidence, score_ms = gather(items, model.probability, transcribe)
    names = args.detector or list(DETECTORS)
    result: dict[str, Any] = {
        "items": {
            "hold": len(scored_holds(evidence)),
            "hold_not_scored": sum(i.label == "hold" for i in items) - len(scored_holds(evidence)),
            "eot": sum(i.label == "eot" for i in items),
        },
        "hold_span_s": list(HOLD_SPAN_S),
        "smart_turn_ms_per_check": round(score_ms, 1),
        "detectors": {name: summarize(sweep(evidence, DETECTORS[name]())) for name in names},
        "pauses": [
            {
                "audio": e.item.audio,
                "start": e.item.pause_start,
                "end": e.item.pause_end,
                "label": e.item.label,
                "text": e.text,
                "cue": e.cue,
                "smart_turn": {str(k): v for k, v in e.scores.items()},
            }
            for e in evidence
        ],
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    for name, d in result["detectors"].items():
        print(
            f"{name:11s} cutoff@300ms {d['cutoff_at_300ms']}  cutoff@600ms {d['cutoff_at_600ms']}  "
            f"latency@5% {d['latency_at_5pct_cutoff_ms']} ms  "
            f"latency@10% {d['latency_at_10pct_cutoff_ms']} ms"
        )
    return 0


def load_evidence(path: Path) -> tuple[list[Evidence], float]:
    """The evidence a previous ``--json`` recorded (its ``pauses``), to sweep again for free.

    The model's scores and the transcripts are taken as recorded; each transcript's cue is read
    again with today's text rules, so a change to them is measured without running any model."""
    data = json.loads(path.read_text())
    if "pauses" not in data:
        raise ValueError(f"{path}: no 'pauses' in it; give the --json of an earlier eot-eval")
    out = []
    for p in data["pauses"]:
        item = Item(p["audio"], p["start"], p["end"], p["label"])
        scores = {float(k): float(v) for k, v in p["smart_turn"].items()}
        out.append(Evidence(item, scores, p["text"], text_cue(p["text"])))
    return out, float(data.get("smart_turn_ms_per_check", 0.0))
