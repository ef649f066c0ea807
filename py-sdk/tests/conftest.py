"""Fixtures of the py-sdk tests."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _is_python27(path: str) -> bool:
    try:
        got = subprocess.run(
            [path, "-c", "import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)"],
            capture_output=True,
            timeout=30,
        )
    except OSError:
        return False
    return got.returncode == 0


def _python2() -> str | None:
    explicit = os.environ.get("VH_TEST_PYTHON2")
    if explicit:
        return explicit
    candidates = [shutil.which("python2.7"), shutil.which("python2")]
    for root in (os.environ.get("PYENV_ROOT"), os.path.expanduser("~/.pyenv")):
        if root:
            candidates.append(os.path.join(root, "versions/2.7.18/bin/python2.7"))
    for c in candidates:
        if c and os.path.isfile(c) and _is_python27(c):
            return c
    return None


@pytest.fixture(scope="module")
def python2() -> str:
    """A Python 2.7, found as the end-to-end tests find it: ``VH_TEST_PYTHON2``,
    then ``python2.7``/``python2`` on ``PATH``, then pyenv's 2.7.18. Without
    one the test is skipped, except under ``CI=true``, where it fails."""
    found = _python2()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no Python 2.7 found (VH_TEST_PYTHON2, PATH, pyenv 2.7.18) and CI=true")
        pytest.skip("no Python 2.7 found (set VH_TEST_PYTHON2)")
    return found
