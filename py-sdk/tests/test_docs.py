"""Every Python block of docs/script-authors.md runs: each block is a file
(named by the ``<!-- file: NAME -->`` line before it); the ``test_*.py``
files run under pytest in a fresh interpreter, with the other blocks (the
scripts) beside them, and every block passes ``mypy --strict``."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "script-authors.md"
_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)^```", re.S | re.M)


def blocks() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = {name: body for name, body in _BLOCK.findall(text)}
    assert len(found) == text.count("```python"), "every python block needs a file name"
    return found


@pytest.fixture
def doc_files(tmp_path: Path) -> Path:
    for name, body in blocks().items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


def test_the_doc_has_scripts_and_tests() -> None:
    names = blocks()
    assert {"welcome.py", "whois.py", "status_before.py", "status_after.py"} <= set(names)
    assert sum(n.startswith("test_") for n in names) >= 3


def test_the_doc_blocks_run(doc_files: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
        cwd=doc_files,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"\b\d+ passed\b", out.stdout) and "failed" not in out.stdout


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_the_doc_blocks_pass_mypy_strict(doc_files: Path) -> None:
    files = sorted(p.name for p in doc_files.glob("*.py"))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", "/dev/null", *files],
        cwd=doc_files,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
