"""The modules the Python 2 worker imports unchanged (the
tables ``_functions``, ``_hooks``, ``_constants``, and ``_discard``, the
discarded-result detector of pipelined calls; vh-runner writes these very
files into its Python 2 ``vh`` package) stay Python 2.7 code, give Python 2
the same table as Python 3, and the detector gets every case right there.

Python 2.7 is found by the ``python2`` fixture (``conftest.py``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import discard_cases

from vh import _constants, _functions, _hooks

VH_DIR = Path(_functions.__file__).parent


def test_python2_reads_the_same_table(python2: str) -> None:
    code = (
        "import json, sys\n"
        "sys.dont_write_bytecode = True\n"
        "import _functions, _hooks, _constants\n"
        "print(json.dumps({\n"
        " 'functions': [[f.name, f.callback, f.result, f.keywords, f.failure_is_refusal,\n"
        "   [[p.name, p.kind, p.optional, p.default] for p in f.params]]\n"
        "   for f in _functions.FUNCTIONS],\n"
        " 'hooks': list(_hooks.HOOK_NAMES),\n"
        " 'pipelined': sorted(_functions.PIPELINED_CALLBACKS),\n"
        " 'constants': dict((k, v) for k, v in vars(_constants).items() if k[:1] == 'e'),\n"
        "}))\n"
    )
    got = subprocess.run(
        [python2, "-B", "-c", code], cwd=VH_DIR, capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 0, got.stderr
    table = json.loads(got.stdout)
    assert table["functions"] == [
        [
            f.name,
            f.callback,
            f.result,
            f.keywords,
            f.failure_is_refusal,
            [[p.name, p.kind, p.optional, p.default] for p in f.params],
        ]
        for f in _functions.FUNCTIONS
    ]
    assert table["hooks"] == list(_hooks.HOOK_NAMES)
    assert table["pipelined"] == sorted(_functions.PIPELINED_CALLBACKS)
    assert table["constants"] == {k: v for k, v in vars(_constants).items() if k[:1] == "e"}


def test_python2_detects_discarded_results(python2: str) -> None:
    got = discard_cases.run(python2, VH_DIR / "_discard.py")
    assert got == {
        "version": [2, 7],
        "supported": True,
        "compiled": False,
        "frames_known": None,
        "tables": [],
        "wrong": {},
    }
