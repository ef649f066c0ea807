"""PyO3 extensions (pydantic's core here) on the real generation B hub.
B runs each script in a sub-interpreter of one process, and a PyO3
extension initialises in one interpreter only: the first script that
imports pydantic gets it, a second one gets an ImportError (so does the
first after a `!pyreload`, which makes it a new sub-interpreter). Through
vh-runner each script has a process and an interpreter of its own, and
both copies work. Both runs are asserted: if B's plugin ever loads the
second copy, the in-process half fails and says so."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from session import OP, OP_PASS, SCRIPTS, Session

SCRIPT = SCRIPTS / "pyo3" / "pyo3_b.py"


def site_packages(python) -> str:
    """The folder of `python`'s installed packages (pydantic among them:
    the test venv gets examples/requirements.txt)."""
    return subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def run(env, mode: str, scripts):
    s = Session(env, mode, "pyo3", scripts, hub_env={"VH_REALHUB_SITE": site_packages(env.python)})

    async def go():
        async with s:
            op = await s.login(OP, OP_PASS)
            await s.wait_output("pyo3.txt", "second\timport")
            op.chat(b".model first")
            op.chat(b".model second")
            await s.barrier(op, "models")

    asyncio.run(go())
    return s.result


@pytest.fixture(scope="module")
def pyo3_pair(env_b, tmp_path_factory):
    """Generation B only: A embeds Python 2.7, where no PyO3 package runs."""
    second = tmp_path_factory.mktemp("pyo3") / "pyo3_second.py"
    second.write_text(SCRIPT.read_text().replace('TAG = "first"', 'TAG = "second"'))
    scripts = [SCRIPT, second]  # autoloaded in this order (by name)
    return run(env_b, "inproc", scripts), run(env_b, "runner", scripts)


def model(tag: str) -> bytes:
    return b'<VerliHub> {"nick":"op","text":".model %s","length":%d}' % (
        tag.encode(),
        len(".model " + tag),
    )


def test_a_second_script_with_a_pyo3_package_fails_in_b_and_works_through_vh_runner(
    pyo3_pair,
):
    inproc, runner = pyo3_pair
    assert inproc.files["pyo3.txt"].decode().splitlines() == [
        "first\timport\tok",
        "second\timport\tImportError\tPyO3 modules do not yet support subinterpreters",
    ], inproc.hub_log[-3000:]
    got = inproc.received[OP]
    assert model("first") in got and model("second") not in got
    assert b"<op> .model second" in got  # the script had no model: allowed
    assert runner.files["pyo3.txt"].decode().splitlines() == [
        "first\timport\tok",
        "second\timport\tok",
    ]
    got = runner.received[OP]
    assert model("first") in got and model("second") in got
    assert b"<op> .model second" not in got
