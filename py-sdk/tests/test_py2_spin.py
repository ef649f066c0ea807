"""The Python 2 worker's spin budget (``py-sdk/python2/vh/_spin.py``, 2.7
and 3 syntax alike, loaded alone here): it follows the same rules as the
Python 3 worker's ``vh_proto::direct::wake::Adaptive`` and is zero while every CPU
is busy. That an idle Python 2 worker then sleeps is checked end to end in
tests/hubsim/tests/python2_faults.rs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPIN = Path(__file__).parents[1] / "python2" / "vh" / "_spin.py"


@pytest.fixture
def spin():
    spec = importlib.util.spec_from_file_location("_py2_spin", SPIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_budget_shrinks_to_nothing_on_long_waits_and_grows_back_on_short_ones(spin):
    a = spin.Adaptive(64e-6)
    assert a.current() == pytest.approx(64e-6)
    for _ in range(7):
        a.waited(5e-3)
    assert a.current() == 0, "a quiet script stops spinning"
    a.waited(40e-6)
    assert a.current() == pytest.approx(8e-6)
    a.waited(100e-6)
    assert a.current() == pytest.approx(16e-6)
    for _ in range(5):
        a.waited(10e-6)
    assert a.current() == pytest.approx(64e-6), "never above the largest"
    off = spin.Adaptive(0)
    off.waited(1e-6)
    assert off.budget() == 0


def test_vh_spin_us_sets_the_largest_budget(spin, monkeypatch):
    monkeypatch.setenv("VH_SPIN_US", "0")
    assert spin.budget_from_env() == 0
    monkeypatch.setenv("VH_SPIN_US", " 120 ")
    assert spin.budget_from_env() == pytest.approx(120e-6)
    monkeypatch.setenv("VH_SPIN_US", "lots")
    assert spin.budget_from_env() == spin.DEFAULT_SPIN
    monkeypatch.delenv("VH_SPIN_US")
    assert spin.budget_from_env() == spin.DEFAULT_SPIN


def test_nobody_spins_while_every_cpu_has_another_process_to_run(spin):
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        a = spin.Adaptive(50e-6)
        deadline = time.time() + 5
        # Past the 5 ms sampling period, with every CPU taken.
        while a.budget() and time.time() < deadline:
            time.sleep(0.02)
        assert a.budget() == 0
    finally:
        for b in burners:
            b.kill()
            b.wait()


def test_the_spin_gives_way_with_the_c_librarys_sched_yield_under_python_2(python2):
    """Between its checks the spin calls ``give_way()``: ``sched_yield``
    (0: done) where ``ctypes`` can load it, as under the Python 2.7 the
    tests run; docs/performance.md "Python 2 and Python 3 workers side by
    side" has what it changed on one CPU."""
    code = (
        "import sys; sys.path.insert(0, " + repr(str(SPIN.parent)) + "); import _spin; "
        "f = _spin.give_way(); "
        "sys.stdout.write(' '.join(map(str, [f(), f is _spin.give_way(), f is _spin._nothing])))"
    )
    out = subprocess.run([python2, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "0 True False", out


def test_without_ctypes_the_spin_goes_on_without_giving_way(spin, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctypes", None)  # import fails
    assert spin.give_way() is spin._nothing
    assert spin.give_way()() == 0
