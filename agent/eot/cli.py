"""``agent eot-eval``: command-line front of the end-of-turn evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import soundfile as sf

from agent.eot.evaluate import (
    CLOSE_MARGIN,
    DETECTORS,
    HOLD_SPAN_S,
    at_settings,
    close_calls,
    scored_holds,
    summarize,
    sweep,
)
from agent.eot.evidence import Evidence, gather, stream_words
from agent.eot.manifest import Item, ManifestError, from_rttm, from_utterances, load_manifest, write_manifest


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
        model = SmartTurnModel(graph=settings.smart_turn.graph, kernels=settings.smart_turn.kernels)
        whisper = WhisperRecognizer(settings.whisper)
        try:
            evidence, score_ms = gather(
                items, model.probability, lambda a: stream_words(a, whisper, settings)
            )
        except ValueError as e:  # a recording that cannot be read
            print(f"agent: {e}", file=sys.stderr)
            return 2
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
        "at_settings": at_settings(evidence, settings),
        "close_calls": close_calls(evidence, settings),
        "agreement": _agreement(evidence, settings) if args.agreement else None,
        "pauses": [
            {
                "audio": e.item.audio,
                "start": e.item.pause_start,
                "end": e.item.pause_end,
                "label": e.item.label,
                "turn_start": e.item.turn_start,
                "cut_in": e.item.cut_in,
                "text": e.text,
                "texts": [[d, t] for d, t in e.texts],
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
        own = result["at_settings"][name]
        beaten = own.get("beaten_by_silence_s")
        print(
            f"{name:11s} cutoff@300ms {d['cutoff_at_300ms']}  cutoff@600ms {d['cutoff_at_600ms']}  "
            f"latency@5% {d['latency_at_5pct_cutoff_ms']} ms  "
            f"latency@10% {d['latency_at_10pct_cutoff_ms']} ms  | at its settings: cutoffs "
            f"{own['false_cutoff_rate']}, latency {own['mean_latency_ms']} ms"
            + (f" (beaten by silence at {beaten} s)" if beaten else "")
        )
    for name, c in result["close_calls"].items():
        print(
            f"{name}: {c['close']} of its {c['checks']} score checks at the settings lie within "
            f"{CLOSE_MARGIN} of a threshold"
        )
    return 0


def _agreement(evidence: list[Evidence], settings: Any) -> list[dict[str, Any]]:
    from agent.eot.agreement import compare
    from agent.eot.evaluate import own_configs

    rows = [a.as_dict() for a in compare(evidence, own_configs(settings)[settings.detector][1])]
    differ = [r for r in rows if not r["agrees"]]
    print(f"agreement with the replay: {len(rows) - len(differ)} of {len(rows)} pauses", file=sys.stderr)
    for r in differ:
        print(
            f"  differs ({r['reason']}): {r['scenario']} {r['label']} at {r['pause_start']} s: replay "
            f"{r['replay_s']}, eval {r['eval_s']} ({r['text']!r})",
            file=sys.stderr,
        )
    return rows


def load_evidence(path: Path) -> tuple[list[Evidence], float]:
    """The evidence a previous ``--json`` recorded (its ``pauses``), to sweep again for free.

    The model's scores and the transcripts are taken as recorded; each transcript's cue is read
    again with today's text rules, so a change to them is measured without running any model."""
    data = json.loads(path.read_text())
    if "pauses" not in data:
        raise ValueError(f"{path}: no 'pauses' in it; give the --json of an earlier eot-eval")
    out = []
    for p in data["pauses"]:
        item = Item(p["audio"], p["start"], p["end"], p["label"], p.get("turn_start"), p.get("cut_in", False))
        scores = {float(k): float(v) for k, v in p["smart_turn"].items()}
        texts = tuple((float(d), str(t)) for d, t in p.get("texts", [[0.1, p["text"]]]))
        out.append(Evidence(item, scores, texts))
    return out, float(data.get("smart_turn_ms_per_check", 0.0))
