"""Entry point of a worker process: ``python -m vh.worker``.

vh-runner starts one per script with the socket to the runner on fd
``VH_WORKER_FD``. The worker waits for the load request, runs the script
file the way python_pi does (spec/wrapper-abi.md §7.5: as ``__main__``,
with its folder on ``sys.path``), reports which hooks it defines, then runs
hooks on its main thread until it is unloaded or the runner goes away.
"""

from __future__ import annotations

import codecs
import os
import sys
import traceback
import types

import vh

from . import _core, _runtime
from ._hooks import HOOK_NAMES


def _set_attributes(event: tuple, encoding: str) -> None:
    _, script_id, path, botname, opchatname, config_dir, start_time, config_name = event[:8]

    def text(b: bytes) -> str:
        return b.decode(encoding, "surrogateescape")

    vh.myid = script_id
    vh.botname = text(botname)
    vh.opchatname = text(opchatname)
    vh.path = os.fsdecode(path)
    vh.name = os.path.basename(vh.path)
    vh.basedir = text(config_dir)
    vh.config_name = text(config_name)
    vh.starttime = start_time


def _run_script(path: str) -> types.ModuleType:
    """Executes the script as ``__main__`` (generation A) and returns it."""
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    exec(code, module.__dict__)
    return module


def _encoding(name: str) -> str:
    try:
        return codecs.lookup(name or "cp1252").name
    except LookupError:
        print(f"vh: unknown hub encoding {name!r}; using cp1252", flush=True)
        return "cp1252"


def main() -> int:
    fd = int(os.environ.get("VH_WORKER_FD", "3"))
    channel = _core.Channel(fd)
    event = channel.recv_main()
    if event[0] != "load":
        print(f"vh worker: expected a load request, got {event[0]!r}", file=sys.stderr)
        return 2
    encoding = _encoding(event[8])
    _set_attributes(event, encoding)
    rt = _runtime.Runtime(channel, encoding)
    _runtime.install(rt)
    try:
        rt.module = _run_script(vh.path)
    except BaseException:
        channel.send_loaded(False, traceback.format_exc(), [])
        return 1
    hooks = [i for i, n in enumerate(HOOK_NAMES) if callable(getattr(rt.module, n, None))]
    channel.send_loaded(True, "", hooks)
    while not rt.pending_unload:
        event = channel.recv_main()
        kind = event[0]
        if kind == "hook":
            rt.run_hook(event[1], event[2], event[3])
        elif kind == "unload":
            break
        elif kind == "closed":
            return 0
    unload = getattr(rt.module, "UnLoad", None)
    if callable(unload):
        try:
            unload()
        except Exception:
            traceback.print_exc()
    channel.send_unloaded()
    return 0


if __name__ == "__main__":
    sys.exit(main())
