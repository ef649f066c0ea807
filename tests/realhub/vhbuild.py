"""Build a real Verlihub (one plugin generation) out of tree, once.

`python3 tests/realhub/vhbuild.py A|B` builds into
`target/realhub/<gen>-<hash>/` (`build/`, `prefix/`), where the hash covers
every file of the source tree and the cmake options, so an unchanged tree is
never built twice. The source trees come from the env vars VERLIHUB_SRC_A
(python_pi 1.6, Python 2.7) and VERLIHUB_SRC_B (python_pi 1.7, Python 3);
they are read-only and stay untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = REPO / "target" / "realhub"

COMMON_CMAKE = [
    "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
    "-DWITH_PYTHON=ON",
    "-DWITH_LUA=OFF",
    "-DINSTALL_CMAKE_FILES=OFF",
    "-DUSE_FEARTLS_PROXY=OFF",
    "-DUSE_TLS_PROXY=OFF",
]


def pyenv_27() -> Path | None:
    """The shared-library Python 2.7 generation A embeds (pyenv's 2.7.18)."""
    roots = []
    if os.environ.get("VH_REALHUB_PY27_PREFIX"):
        roots.append(Path(os.environ["VH_REALHUB_PY27_PREFIX"]))
    try:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
        roots.append(Path(root) / "versions" / "2.7.18")
    except (OSError, subprocess.CalledProcessError):
        pass
    roots.append(Path.home() / ".pyenv" / "versions" / "2.7.18")
    for r in roots:
        if (r / "lib" / "libpython2.7.so").exists():
            return r
    return None


@dataclass
class Generation:
    name: str  # "A" or "B"
    src: Path
    cmake: list[str]
    lib_path: list[str]  # LD_LIBRARY_PATH entries besides <prefix>/lib


def generation(name: str) -> Generation | None:
    """The generation's source tree and cmake options, or None when absent."""
    src = os.environ.get(f"VERLIHUB_SRC_{name}")
    if not src or not (Path(src) / "CMakeLists.txt").exists():
        return None
    if name == "A":
        py = pyenv_27()
        if py is None:
            raise RuntimeError(
                "generation A embeds Python 2.7 and needs a shared libpython2.7 "
                "(pyenv's 2.7.18 with lib/libpython2.7.so, or VH_REALHUB_PY27_PREFIX)"
            )
        return Generation(
            "A",
            Path(src).resolve(),
            COMMON_CMAKE
            + [
                f"-DPYTHON_INCLUDE_DIR={py}/include/python2.7",
                f"-DPYTHON_LIBRARY={py}/lib/libpython2.7.so",
                f"-DPYTHON_EXECUTABLE={py}/bin/python2.7",
            ],
            [str(py / "lib")],
        )
    ver = "3.11"
    return Generation(
        "B",
        Path(src).resolve(),
        COMMON_CMAKE
        + [
            "-DBUILD_PYTHON_TESTS=OFF",
            "-DPython3_EXECUTABLE=/usr/bin/python3",
            f"-DPython3_INCLUDE_DIR=/usr/include/python{ver}",
            f"-DPython3_LIBRARY=/usr/lib/x86_64-linux-gnu/libpython{ver}.so",
        ],
        [],
    )


def tree_hash(gen: Generation) -> str:
    h = hashlib.sha256()
    for opt in gen.cmake:
        h.update(opt.encode() + b"\0")
    for p in sorted(gen.src.rglob("*")):
        if p.is_file() and ".git" not in p.relative_to(gen.src).parts:
            h.update(str(p.relative_to(gen.src)).encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:12]


@dataclass
class Built:
    gen: str
    root: Path  # target/realhub/<gen>-<hash>
    build: Path
    prefix: Path
    lib_path: list[str]
    seconds: float | None  # build time, None when cached

    @property
    def vh(self) -> Path:
        return self.prefix / "bin" / "vh"

    @property
    def ld_library_path(self) -> str:
        return ":".join([str(self.prefix / "lib")] + self.lib_path)


def build(name: str, jobs: int = 2, log=print) -> Built | None:
    gen = generation(name)
    if gen is None:
        return None
    root = TARGET / f"{name}-{tree_hash(gen)}"
    b = Built(name, root, root / "build", root / "prefix", gen.lib_path, None)
    stamp = root / "built.ok"
    if stamp.exists():
        return b
    # a partial build from an interrupted run is thrown away: no half state
    if root.exists():
        shutil.rmtree(root)
    b.build.mkdir(parents=True)
    logf = root / "build.log"
    t0 = time.monotonic()
    env = dict(os.environ, LC_ALL="C")
    steps = [
        [
            "cmake",
            "-S",
            str(gen.src),
            "-B",
            str(b.build),
            f"-DCMAKE_INSTALL_PREFIX={b.prefix}",
            *gen.cmake,
        ],
        ["cmake", "--build", str(b.build), "-j", str(jobs)],
        ["cmake", "--install", str(b.build)],
    ]
    with open(logf, "wb") as out:
        for cmd in steps:
            log(f"realhub: {name}: {' '.join(cmd[:3])} ...")
            r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            if r.returncode != 0:
                tail = logf.read_bytes()[-4000:].decode(errors="replace")
                raise RuntimeError(f"build of generation {name} failed ({cmd}):\n{tail}")
    b.seconds = time.monotonic() - t0
    stamp.write_text(f"{b.seconds:.1f}\n")
    log(f"realhub: {name}: built in {b.seconds:.0f} s into {root}")
    return b


if __name__ == "__main__":
    for g in sys.argv[1:] or ["A", "B"]:
        r = build(g)
        print(g, r.root if r else "no source (VERLIHUB_SRC_%s unset)" % g)
