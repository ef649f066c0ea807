#!/usr/bin/env python3
"""Checks that the repository explains itself: no tracked file names a
document that lives outside it (the reference material a development
checkout had beside it). A clone has none of it, so code, tests and docs
cite ``docs/abi.md`` and ``docs/architecture.md`` instead.

Run from the repository root: ``python3 tools/in_repo.py`` (``make lint``
runs it). Prints each finding as ``file:line: text`` and exits 1 if there
is one, else prints a one-line summary and exits 0.

``.ci/run`` is the one exception: CI reads the Verlihub sources from
beside the checkout on purpose, for the real-hub tests.
"""

from __future__ import annotations

import subprocess
import sys

#: Names a tracked file may not contain. Spelled in pieces so that this
#: file does not match itself.
FORBIDDEN = [
    "../" + "shared",
    "wrapper-abi" + ".md",
    "DESIGN" + ".md",
    "STYLE" + ".md",
]

#: Files allowed to name them.
ALLOWED = {".ci/run"}


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], check=True, capture_output=True).stdout.decode(
        "utf-8", "surrogateescape"
    )
    return [f for f in out.split("\0") if f]


def findings(path: str) -> list[str]:
    """``path:line: text`` for every line of ``path`` naming a forbidden
    document; none for binary or unreadable files."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if b"\0" in data:
        return []
    found = []
    text = data.decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), 1):
        if any(name in line for name in FORBIDDEN):
            found.append(f"{path}:{number}: {line.strip()}")
    return found


def main() -> int:
    files = [f for f in tracked_files() if f not in ALLOWED]
    problems = [p for f in files for p in findings(f)]
    if problems:
        print(
            "in_repo: these lines name documents outside the repository; cite"
            ' docs/abi.md §N or docs/architecture.md "Heading" instead:',
            file=sys.stderr,
        )
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"in_repo: {len(files)} tracked file(s) checked, none names an outside document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
