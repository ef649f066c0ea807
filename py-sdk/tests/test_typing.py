"""The stubs: up to date with the function table, consistent with the
module (stubtest), and good enough for ``mypy --strict`` on the package
and on the example scripts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import stubgen

ROOT = Path(__file__).resolve().parents[2]
needs_mypy = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None, reason="mypy is not installed"
)


def mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(stubgen.ruff() is None, reason="ruff is not installed")
@pytest.mark.parametrize("name", sorted(stubgen.STUBS))
def test_the_stubs_are_generated_from_the_current_table(name: str) -> None:
    written = (stubgen.PACKAGE / name).read_text(encoding="utf-8")
    assert written == stubgen.render(name), f"run: python py-sdk/tests/stubgen.py ({name})"


@needs_mypy
def test_stubtest_finds_the_stubs_consistent_with_the_module(tmp_path: Path) -> None:
    out = mypy("mypy.stubtest", "vh", "--mypy-config-file", "/dev/null", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_mypy
def test_the_package_passes_mypy_strict(tmp_path: Path) -> None:
    package = str(ROOT / "py-sdk" / "python" / "vh")
    out = mypy("mypy", "--strict", "--cache-dir", "/dev/null", package, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_mypy
@pytest.mark.parametrize(
    "example",
    [
        "aio_example.py",
        "greeter.py",
        "chat_filter.py",
    ],
)
def test_the_examples_pass_mypy_strict(example: str, tmp_path: Path) -> None:
    path = str(ROOT / "examples" / example)
    out = mypy("mypy", "--strict", "--cache-dir", "/dev/null", path, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
