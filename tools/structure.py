#!/usr/bin/env python3
"""Checks the project's shape: no hand-written source file over
the line limit, and no import cycle between the modules of a Rust crate or
of the ``vh`` Python package.

Run from the repository root: ``python3 tools/structure.py`` (``make
structure``; ``make lint`` runs it). Prints each finding and exits 1 if
there is one, else prints a one-line summary per tree and exits 0.

How a dependency is found:

* Rust: every ``crate::a::b`` and ``super::…`` path in a module's file
  (``use`` lines and paths in code alike), resolved to the longest module
  that exists. Code from the first top-level ``#[cfg(test)]`` line on is
  left out (unit tests may reach anywhere), and so are ``tests.rs`` files.
* Python: every ``import`` of the package's own modules, at module level
  and inside functions (a lazy import is still a dependency), except those
  under ``if TYPE_CHECKING:`` (never run).

A module's use of one of its ancestors (``super::`` in a child module, a
submodule importing its package's ``__init__``) is nesting, not a cycle,
and is not counted. Every other edge is, and a cycle of any length fails.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

#: Most lines a hand-written source file may have.
MAX_LINES = 450

#: Rust crates: (name, source folder, whether the line limit applies).
RUST_CRATES = [
    ("vh-host-shim", "host-shim/src", True),
    ("vh-runner", "runner/src", True),
    ("vh-sdk-core", "py-sdk/src", True),
    ("vh-proto", "proto/src", False),
    ("vh-bench", "bench/src", False),
    ("vh-hubsim", "tests/hubsim/src", False),
]

#: Python packages: (import name, folder, whether the line limit applies).
PY_PACKAGES = [
    ("vh", "py-sdk/python/vh", True),
    ("vh", "py-sdk/python2/vh", True),
]

_PATH = re.compile(r"\b(crate|super)((?:::\w+)+)")
_USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::\w+)*)::\{([^;]*)\}", re.S)


def rust_modules(src: Path) -> dict[tuple[str, ...], Path]:
    """Module path (``("sandbox", "landlock")``; ``()`` for the root) to
    its file, for every ``.rs`` file under ``src``."""
    mods: dict[tuple[str, ...], Path] = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src).with_suffix("").parts
        if rel[-1] in ("lib", "main") and len(rel) == 1:
            key: tuple[str, ...] = ()
        elif rel[-1] == "mod":
            key = tuple(rel[:-1])
        elif f.parent.name == "bin" and len(rel) == 2:
            continue  # each binary is a crate of its own
        else:
            key = tuple(rel)
        mods[key] = f
    return mods


def _strip_tests(text: str) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            return "\n".join(lines[:i])
    return text


def _resolve(mods: dict[tuple[str, ...], Path], path: tuple[str, ...]) -> tuple[str, ...]:
    for n in range(len(path), -1, -1):
        if path[:n] in mods:
            return path[:n]
    return ()


def rust_edges(src: Path) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Module → the modules its code refers to (see the module doc)."""
    mods = rust_modules(src)
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in mods}
    for mod, f in mods.items():
        if f.name == "tests.rs":
            continue
        text = _strip_tests(f.read_text())
        # A file `a/b.rs` is module a::b; `super` in it is `a`.
        base = mod if f.name == "mod.rs" or not mod else mod
        refs: list[tuple[str, tuple[str, ...]]] = []
        for m in _USE_GROUP.finditer(text):
            for item in m.group(3).split(","):
                item = item.strip().split(" as ")[0]
                parts = tuple(p for p in (m.group(2) + "::" + item).split("::") if p)
                if parts and re.fullmatch(r"\w+(::\w+)*", "::".join(parts)):
                    refs.append((m.group(1), parts))
        refs += [
            (m.group(1), tuple(p for p in m.group(2).split("::") if p))
            for m in _PATH.finditer(text)
        ]
        for root, parts in refs:
            if root == "crate":
                target = parts
            else:
                up = base[:-1]
                while parts and parts[0] == "super":
                    up, parts = up[:-1], parts[1:]
                target = up + parts
            dep = _resolve(mods, target)
            if dep != mod and mod[: len(dep)] != dep:  # ancestors are nesting
                edges[mod].add(dep)
    return edges


def python_edges(pkg: str, folder: Path) -> dict[str, set[str]]:
    """Module (``vh._api``) → the package's modules it imports at run time."""
    mods = {}
    for f in sorted(folder.glob("*.py")):
        name = pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"
        mods[name] = f
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, f in mods.items():
        tree = ast.parse(f.read_text(), str(f))
        package = pkg  # every module here is in the package's top folder
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for sub in node.body:
                    skip.update(id(n) for n in ast.walk(sub))
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package if node.level == 1 else ""
                    mod = f"{base}.{node.module}" if node.module else base
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            for t in targets:
                if t in mods and t != name and t != pkg:
                    edges[name].add(t)
    return edges


def cycles(edges: dict) -> list[list]:
    """Every strongly connected group of more than one module (Tarjan)."""
    index: dict = {}
    low: dict = {}
    stack: list = []
    on: set = set()
    out: list[list] = []
    counter = [0]

    def visit(v: object) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def _show(mod: object) -> str:
    return "::".join(mod) or "(root)" if isinstance(mod, tuple) else str(mod)


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    problems: list[str] = []
    for crate, folder, limit in RUST_CRATES:
        src = root / folder
        if not src.is_dir():
            continue
        edges = rust_edges(src)
        for group in cycles(edges):
            problems.append(f"{crate}: import cycle between {', '.join(map(_show, group))}")
        big = []
        if limit:
            for f in sorted(src.rglob("*.rs")):
                n = len(f.read_text().splitlines())
                if n > MAX_LINES:
                    big.append(f"{f.relative_to(root)} has {n} lines (limit {MAX_LINES})")
        problems += big
        print(f"{crate}: {len(edges)} modules, {sum(map(len, edges.values()))} edges")
    for pkg, folder, limit in PY_PACKAGES:
        src = root / folder
        if not src.is_dir():
            continue
        edges = python_edges(pkg, src)
        for group in cycles(edges):
            problems.append(f"{folder}: import cycle between {', '.join(group)}")
        if limit:
            for f in sorted(src.glob("*.py")):
                n = len(f.read_text().splitlines())
                if n > MAX_LINES:
                    problems.append(f"{f.relative_to(root)} has {n} lines (limit {MAX_LINES})")
        print(f"{folder}: {len(edges)} modules, {sum(map(len, edges.values()))} edges")
    for p in problems:
        print(f"- {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
