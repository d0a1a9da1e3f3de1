"""The install is reproducible: every package the project needs (with its dev extra) is pinned in
constraints.txt, and the installed version is the pinned one (the README's install commands pass
``-c constraints.txt``; ``.ci/lock`` re-pins)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            out[canonicalize_name(name)] = version
    return out


def needed(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions ``name[extras]`` needs, directly or not, on this interpreter."""
    seen: set[str] = set()
    todo = [(name, extras)]
    while todo:
        dist, wanted = todo.pop()
        for raw in metadata.requires(dist) or []:
            req = Requirement(raw)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (wanted or {""})):
                continue
            key = canonicalize_name(req.name)
            if key not in seen:
                seen.add(key)
                todo.append((req.name, frozenset(req.extras)))
    return seen


def test_every_dependency_is_pinned_and_installed_at_its_pin() -> None:
    pinned = pins()
    deps = needed("agent-turns", frozenset({"dev"}))
    assert {"pipecat-ai", "onnxruntime", "ctranslate2", "piper-tts", "deepgram-sdk"} <= deps
    missing = sorted(deps - set(pinned))
    assert not missing, f"not pinned in constraints.txt (run .ci/lock): {missing}"
    wrong = {d: (metadata.version(d), pinned[d]) for d in deps if metadata.version(d) != pinned[d]}
    assert not wrong, f"installed (left) is not the pinned version (right): {wrong}"
