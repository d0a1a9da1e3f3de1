"""``agent bench pipeline``: what a replay costs, stage by stage, next to an older commit.

Each run replays the same scenario files at full speed in a process of its own and reports,
from the ``summary.json`` it writes: compute seconds per second of audio (in total and per
stage), smart-turn's cost per check (p50, p95), checks per user turn, the speed-up, premature
cutoffs, missed turns and end-of-turn latency in media time. With ``--baseline REF`` the same
files are replayed first by a git worktree of REF, with this environment's packages, then by the
current code: back to back on one machine, so that a saving is a ratio measured in one run.

The files are copied to a temporary folder with copies of their recordings beside them, so both
commits read the same audio. A scenario the baseline cannot read (a field it does not know yet)
is left out of both runs and named.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from agent.replay.metrics import model_check_ms, percentiles

# Runs the `agent` command of the code at argv[1] ("" for this checkout) with argv[2:].
_RUN_CODE = r"""
import sys, tomllib, importlib
root = sys.argv[1]
if root:
    sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, root)
    entry = tomllib.loads(open(root + "/pyproject.toml").read())["project"]["scripts"]["agent"]
else:
    entry = "pipelines.cli:main"
module, func = entry.split(":")
sys.exit(getattr(importlib.import_module(module), func)(sys.argv[2:]))
"""

# Prints, as JSON, which scenario files the code at argv[1] can read ({file: error or null}).
_CAN_READ = r"""
import sys, json
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv[1])
from agent.replay.scenario import load_scenario
out = {}
for f in sys.argv[2:]:
    try:
        load_scenario(f)
        out[f] = None
    except Exception as e:
        out[f] = str(e).splitlines()[0]
print(json.dumps(out))
"""


class BenchError(RuntimeError):
    """A run could not be made (a bad ref, a replay that failed on its input)."""


def stage(paths: list[Path], folder: Path) -> list[Path]:
    """Copies of the scenario files in ``folder``, with copies of their recordings beside them
    (``audio/<n>_<name>``), so that both commits read the same audio from the scenarios' folder."""
    files = sorted(p for path in paths for p in (path.glob("*.yaml") if path.is_dir() else [path]))
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    copied: dict[Path, str] = {}

    def copy_audio(source: Path) -> str:
        if not source.is_file():
            return str(source)  # the replay names what is missing
        if source not in copied:
            copied[source] = f"audio/{len(copied)}_{source.name}"
            shutil.copyfile(source, folder / copied[source])
        return copied[source]

    out = []
    for f in files:
        data = yaml.safe_load(f.read_text())
        for step in data.get("turns") or []:
            if isinstance(step, dict) and "audio" in step:
                step["audio"] = copy_audio((f.parent / step["audio"]).resolve())
        if isinstance(data.get("background"), dict) and "file" in data["background"]:
            data["background"]["file"] = copy_audio((f.parent / data["background"]["file"]).resolve())
        copy = folder / f.name
        copy.write_text(yaml.safe_dump(data, sort_keys=False))
        out.append(copy)
    return out


def figures(summary: dict[str, Any], checks_ms: list[float]) -> dict[str, Any]:
    """The bench's figures from a replay's ``summary.json`` and ``checks_ms``: what each run of
    the end-of-turn model cost, counted from the timelines the same way for either commit (the
    older commit's own summary may count otherwise)."""
    overall, per = summary["overall"], summary["scenarios"].values()
    audio = overall["audio_seconds"]
    stages: dict[str, float] = {}
    for f in per:
        for name, seconds in f.get("compute_seconds", {}).items():
            stages[name] = stages.get(name, 0.0) + seconds
    checks = percentiles(checks_ms)
    turns = overall.get("turns") or 0
    return {
        "audio_seconds": audio,
        "compute_per_audio_second": {
            "total": round(sum(stages.values()) / audio, 4),
            **{name: round(s / audio, 4) for name, s in sorted(stages.items())},
        },
        "smart_turn_ms_per_check": {"p50": checks["p50"], "p95": checks["p95"]},
        "checks_per_turn": round(len(checks_ms) / turns, 2) if turns else None,
        "speedup": overall.get("speedup"),
        "premature_cutoffs": overall.get("premature_cutoffs"),
        "missed_turns": overall.get("missed_turns"),
        "eot_latency_media_ms": {
            "p50": (overall.get("eot_latency_media_ms") or {}).get("p50"),
            "p95": (overall.get("eot_latency_media_ms") or {}).get("p95"),
        },
    }


def replay(root: Path | None, folder: Path, out: Path, extra: list[str]) -> dict[str, Any]:
    """Replay ``folder`` with the code at ``root`` (None: this checkout); its figures."""
    argv = [
        sys.executable,
        "-c",
        _RUN_CODE,
        str(root or ""),
        "replay",
        str(folder),
        "--out",
        str(out),
        *extra,
    ]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: an expectation failed, which the figures show
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"the replay of {root or 'this checkout'} failed: {last}")
    checks = [
        ms
        for timeline in sorted(out.glob("*/timeline.json"))
        for ms in model_check_ms(json.loads(timeline.read_text())["events"])
    ]
    return figures(json.loads((out / "summary.json").read_text()), checks)


def worktree(ref: str, where: Path) -> Path:
    """A detached git worktree of ``ref`` at ``where``."""
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(where), ref],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise BenchError(f"--baseline {ref}: {(done.stderr.strip().splitlines() or ['git failed'])[-1]}")
    return where


def readable(root: Path, files: list[Path]) -> dict[str, str | None]:
    argv = [sys.executable, "-c", _CAN_READ, str(root), *map(str, files)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"the baseline cannot load scenarios: {done.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run(paths: list[Path], baseline: str | None, extra: list[str]) -> dict[str, Any]:
    """Both runs (or only the current one) and what was left out."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        files = stage(paths, work / "scenarios")
        if not files:
            raise BenchError("no scenario files given")
        result: dict[str, Any] = {"runs": {}, "left_out": {}}
        if baseline is None:
            result["runs"]["current"] = replay(None, work / "scenarios", work / "current", extra)
            return result
        root = worktree(baseline, work / "baseline-code")
        try:
            errors = readable(root, files)
            for f, error in errors.items():
                if error is not None:
                    result["left_out"][Path(f).name] = error
                    Path(f).unlink()
            result["runs"]["baseline"] = replay(root, work / "scenarios", work / "baseline", [])
            result["runs"]["current"] = replay(None, work / "scenarios", work / "current", extra)
        finally:
            repo = Path(__file__).resolve().parents[2]
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(root)], capture_output=True
            )
        return result


def table(runs: dict[str, dict[str, Any]]) -> str:
    """The figures side by side, one row per figure."""
    names = list(runs)
    rows = [["figure", *names]]
    stages = sorted({s for r in runs.values() for s in r["compute_per_audio_second"]} - {"total"})
    for key in ["total", *stages]:
        rows.append(
            [
                f"compute/audio s: {key}",
                *(str(r["compute_per_audio_second"].get(key, "-")) for r in runs.values()),
            ]
        )
    for label, get in (
        ("smart-turn ms/check p50", lambda r: r["smart_turn_ms_per_check"]["p50"]),
        ("smart-turn ms/check p95", lambda r: r["smart_turn_ms_per_check"]["p95"]),
        ("checks per user turn", lambda r: r["checks_per_turn"]),
        ("speed-up (x real time)", lambda r: r["speedup"]),
        ("premature cutoffs", lambda r: r["premature_cutoffs"]),
        ("missed turns", lambda r: r["missed_turns"]),
        ("eot latency media p50 ms", lambda r: r["eot_latency_media_ms"]["p50"]),
        ("eot latency media p95 ms", lambda r: r["eot_latency_media_ms"]["p95"]),
    ):
        rows.append([label, *(str(get(r)) for r in runs.values())])
    width = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, width, strict=True)) for row in rows)
