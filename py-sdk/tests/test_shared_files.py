"""What the Python 3 and Python 2 workers share is one file each, the
Python 3 SDK's own, that vh-runner writes into its Python 2 package
(``runner/src/py2.rs``, ``PACKAGE``): each of them compiles under Python
2.7, every module the Python 2 package imports is shipped, the shared main
loop serves a Python 2 worker's events, and the nesting limit both workers
keep stays below the shim's.

Python 2.7 is found as in ``test_py2_shared``; without one the Python 2
tests are skipped, except under ``CI=true``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

from vh import _limits, _runtime

ROOT = Path(__file__).resolve().parents[2]
PY2RS = ROOT / "runner" / "src" / "py2.rs"


def shipped() -> dict[str, Path]:
    """The Python 2 package as ``runner/src/py2.rs`` ships it: name inside
    ``vh/`` -> the repository file (the generated ``_schema.py`` left out)."""
    pairs = re.findall(r'"vh/(\w+\.py)",\s*include_str!\("\.\./\.\./([^"]+)"\)', PY2RS.read_text())
    return {name: ROOT / path for name, path in pairs}


def shared() -> list[Path]:
    return [p for p in shipped().values() if p.parent.parent.name == "python"]


def test_the_python2_package_ships_every_file_of_its_own_and_the_shared_ones() -> None:
    files = shipped()
    own = {p.name for p in (ROOT / "py-sdk" / "python2" / "vh").glob("*.py")}
    assert own <= set(files), own - set(files)
    names = {p.name for p in shared()}
    assert {"_functions.py", "_hooks.py", "_limits.py", "_main_loop.py"} <= names
    for path in shared():
        # Every shared file says so, for whoever edits it.
        assert "Python 2.7 syntax" in path.read_text(encoding="utf-8"), path


def _imported(path: Path) -> set[str]:
    """The package modules ``path`` imports (``from . import x``,
    ``from .x import y``), at any depth of the file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_every_module_the_python2_package_imports_is_shipped() -> None:
    files = shipped()
    available = {name[:-3] for name in files} | {"_schema", "_link", "_native"}
    for path in files.values():
        missing = _imported(path) - available
        assert not missing, f"{path.name} imports {missing}, which py2.rs does not ship"


def test_the_shared_files_compile_under_python2(python2: str) -> None:  # noqa: F811
    code = (
        "import sys\n"
        "for path in sys.argv[1:]:\n"
        "    compile(open(path, 'rb').read(), path, 'exec')\n"
    )
    paths = [str(p) for p in shared()]
    got = subprocess.run(
        [python2, "-B", "-c", code, *paths], capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 0, got.stderr


def test_the_workers_nest_less_deep_than_the_shim() -> None:
    # The shim's bound on the hub thread's nested waits
    # (host-shim/src/hub/waits.rs) is above the workers' own limit, so a
    # script meets the worker's limit, with its log line, first.
    waits = (ROOT / "host-shim" / "src" / "hub" / "waits.rs").read_text()
    shim = int(re.search(r"pub const MAX_NESTED_WAITS: usize = (\d+);", waits).group(1))
    assert _limits.MAX_DEPTH < shim
    assert _runtime.MAX_DEPTH == _limits.MAX_DEPTH


#: A Python 2 worker's main loop over scripted events, with the package as
#: py2.rs ships it: prints what the channel was asked to send.
_PY2_LOOP = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from vh import _main_loop, _runtime

class Channel(object):
    def __init__(self, events):
        self.events, self.sent = list(events), []
    def recv_main(self):
        return self.events.pop(0)
    def __getattr__(self, name):
        if not name.startswith("send_"):
            raise AttributeError(name)
        return lambda *a: self.sent.append([name] + list(a))
    def start_call(self, callback, args):
        self.sent.append(["start_call", callback])
        return 9

def OnParsedMsgChat(nick, text):
    log.append(["chat", nick.decode(), text.decode()])
    if text == b"call":
        log.append(["call", list(rt.call("GetUserIP", [nick]))])
    return 0

def OnTimer():
    log.append(["timer"])

def f(x):
    return x + 1

def UnLoad():
    log.append(["unload"])

log = []
events = [
    ("ping", 5),
    ("hook", 1, 3, [b"ann", b"hi"]),
    ("hook", 2, 37, [1.5]),
    ("hook", 3, 3, [b"bob", b"call"]),
    ("hook", 4, 3, [b"cy", b"nested"]),   # fired while hook 3 waits
    ("result", 8, True, [b"old"], "", "s"),  # late, for nobody
    ("result", 9, True, [b"1.2.3.4"], "", "s"),
    ("function", 5, "f", "l", [2]),
    ("hook", 6, 99, []),
    ("unload",),
]
channel = Channel(events)
rt = _runtime.Runtime(channel, 7, "t.py")
rt.module = sys.modules[__name__]
_runtime.install(rt)
_main_loop.serve_script(rt, channel, _main_loop.TUPLES)
print(json.dumps({"log": log, "sent": channel.sent}))
"""


def test_the_shared_main_loop_serves_a_python2_worker(python2: str, tmp_path: Path) -> None:  # noqa: F811
    package = tmp_path / "vh"
    package.mkdir()
    for name, path in shipped().items():
        (package / name).write_bytes(path.read_bytes())
    got = subprocess.run(
        [python2, "-B", "-c", _PY2_LOOP, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert out["log"] == [
        ["chat", "ann", "hi"],
        ["timer"],
        ["chat", "bob", "call"],
        ["chat", "cy", "nested"],
        ["call", [True, ["1.2.3.4"], ""]],
        ["unload"],
    ]
    assert out["sent"] == [
        ["send_loaded", True, "", [3, 33, 37]],
        ["send_pong", 5],
        ["send_hook_result", 1, False, [0]],
        ["send_hook_result", 2, False, [1]],
        ["start_call", "GetUserIP"],
        ["send_hook_result", 4, False, [0]],
        ["send_hook_result", 3, False, [0]],
        ["send_function_result", 5, True, "l", 3, ""],
        ["send_hook_result", 6, True, []],
        ["send_unloaded"],
    ]
