"""``tools/in_repo.py`` (part of ``make lint``) fails on a tracked file that
names a document outside the repository, with ``file:line``, and lets
``.ci/run`` and untracked files through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "in_repo.py"
#: What the tool refuses, spelled in pieces so that this file passes it.
OUTSIDE = "../" + "shared/spec"


def _run(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL)], cwd=repo, capture_output=True, text=True, timeout=60
    )


def test_a_reference_outside_the_repository_fails_with_file_and_line(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(f"src={OUTSIDE}\n")
    (tmp_path / "ok.md").write_text("see docs/abi.md §6.3\n")
    (tmp_path / "bad.rs").write_text(f"// fine\n// see {OUTSIDE}/x.md\n")
    (tmp_path / "untracked.md").write_text(f"{OUTSIDE}\n")
    subprocess.run(["git", "add", ".ci/run", "ok.md", "bad.rs"], cwd=tmp_path, check=True)

    out = _run(tmp_path)
    assert out.returncode == 1, out
    assert f"bad.rs:2: // see {OUTSIDE}/x.md" in out.stderr
    assert ".ci/run" not in out.stderr and "untracked" not in out.stderr

    subprocess.run(["git", "rm", "-q", "--cached", "bad.rs"], cwd=tmp_path, check=True)
    out = _run(tmp_path)
    assert out.returncode == 0, out
    assert "1 tracked file(s) checked" in out.stdout
