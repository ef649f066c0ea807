"""Fixtures of the real-hub tests: both Verlihub generations built from
VERLIHUB_SRC_A / VERLIHUB_SRC_B (cached in target/realhub/), one private
MariaDB, a hub template per generation, sessions in both modes.

Without the sources the tests are skipped with a line saying how to get
them; under CI=true a fixture that cannot build or start fails the run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hubs  # noqa: E402
import vhbuild  # noqa: E402
from session import OP, OP_PASS, Env  # noqa: E402

CI = os.environ.get("CI") == "true"
HOW = (
    "real-hub tests need the two Verlihub source trees: set VERLIHUB_SRC_A "
    "(Verlihub master with python_pi 1.6) and VERLIHUB_SRC_B (its pull request "
    "214, python_pi 1.7) to their folders; see tests/realhub/README.md"
)
TIMES: dict[str, float] = {}


def unavailable(why: str):
    if CI:
        pytest.fail(f"CI=true and the real-hub fixture cannot run: {why}", pytrace=False)
    pytest.skip(why)


def python3_with_vh() -> Path:
    p = Path(os.environ.get("VH_TEST_PYTHON") or vhbuild.REPO / ".venv" / "bin" / "python")
    r = subprocess.run([str(p), "-c", "import vh, vh._core"], capture_output=True)
    if r.returncode != 0:
        unavailable(f"{p} cannot import vh (run `make build`)")
    return p


def python27() -> Path | None:
    cand = os.environ.get("VH_TEST_PYTHON2")
    if not cand:
        py = vhbuild.pyenv_27()
        cand = str(py / "bin" / "python2.7") if py else shutil.which("python2.7")
    return Path(cand) if cand else None


@pytest.fixture(scope="session")
def mariadb():
    db = hubs.MariaDB()
    try:
        db.start()
    except Exception as e:  # noqa: BLE001
        db.stop()
        unavailable(f"MariaDB does not start: {e}")
    yield db
    db.stop()


_envs: dict[str, Env] = {}


def _gen_env(gen: str, request) -> Env:
    if gen in _envs:
        return _envs[gen]
    if not os.environ.get(f"VERLIHUB_SRC_{gen}"):
        unavailable(HOW)
    # MariaDB only once there is a hub to give it to
    mariadb = request.getfixturevalue("mariadb")
    if not hubs.SHIM_PATH.exists() or not hubs.RUNNER_PATH.exists():
        unavailable(f"{hubs.PROFILE_DIR} has no shim or runner: run `make build` (cargo build)")
    try:
        built = vhbuild.build(gen, log=lambda m: print(m, file=sys.stderr))
    except Exception as e:  # noqa: BLE001
        unavailable(f"generation {gen} does not build: {e}")
    if built is None:
        unavailable(HOW)
    if built.seconds is not None:
        TIMES[f"build {gen}"] = built.seconds
    work = vhbuild.TARGET / "work" / gen
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tpl = hubs.HubTemplate(built, mariadb, work, OP, OP_PASS)
    try:
        tpl.create()
    except Exception as e:  # noqa: BLE001
        unavailable(f"generation {gen}'s hub does not start: {e}")
    py2 = python27()
    if gen == "A" and py2 is None:
        unavailable("no Python 2.7 for the Python 2 workers (VH_TEST_PYTHON2)")
    env = Env(built, tpl, python3_with_vh(), py2)
    _envs[gen] = env
    return env


@pytest.fixture(scope="session", params=["A", "B"])
def gen_env(request) -> Env:
    return _gen_env(request.param, request)


@pytest.fixture(scope="session")
def env_a(request) -> Env:
    return _gen_env("A", request)


@pytest.fixture(scope="session")
def env_b(request) -> Env:
    return _gen_env("B", request)


def pytest_terminal_summary(terminalreporter):
    if TIMES:
        terminalreporter.write_line(
            "real-hub times: " + ", ".join(f"{k} {v:.0f} s" for k, v in TIMES.items())
        )
