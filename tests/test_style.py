"""The code stays ruff- and mypy-clean (the project's own configuration in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run("mypy", "agent", "pipelines")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_file_of_code_is_over_500_lines() -> None:
    long = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in [*ROOT.glob("agent/**/*.py"), *ROOT.glob("pipelines/*.py"), *ROOT.glob("tests/*.py")]
        if (n := len(p.read_text().splitlines())) > 500
    ]
    assert long == []


def test_the_library_never_imports_the_compositions_above_it() -> None:
    """Layers point down: ``pipelines/`` composes ``agent/``, never the other way round."""
    import ast

    upward = []
    for p in ROOT.glob("agent/**/*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            upward += [f"{p.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "pipelines"]
    assert upward == []
