"""Entry point of a worker process: ``python -m vh.worker``.

vh-runner starts one per script with the socket to the runner on fd
``VH_WORKER_FD`` and, when the hub takes direct links, the direct link to
the hub on fd ``VH_DIRECT_FD`` (docs/protocol.md "Direct links"). The
worker waits for the load request, runs the script file the way python_pi
does (docs/abi.md §7.5: as ``__main__``, with its folder on
``sys.path``), reports which hooks it defines, then runs
hooks and function calls (generation B's ``w_CallFunction``) on its main
thread until it is unloaded or the runner goes away (docs/protocol.md
"Runner ↔ worker"). ``async def`` hooks run on the worker's asyncio loop
(see ``vh._hook_dispatch``).

It always asks for ``OnScriptCommand``, defined or not, so that the hub's
bot renames reach ``vh.botname``/``vh.opchatname`` in every script (docs/abi.md
§4.3; the hub does not wait for that hook).
"""

from __future__ import annotations

import codecs
import os
import sys

from . import _core, _loader, _runtime, _semantics

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _encoding(name: str) -> str:
    try:
        return codecs.lookup(name or "cp1252").name
    except LookupError:
        print(f"vh: unknown hub encoding {name!r}; using cp1252", flush=True)
        return "cp1252"


def _attributes(event: tuple[Any, ...], encoding: str) -> _loader.ScriptAttributes:
    """The ``("load", …)`` event (see ``_core.Channel.recv_main``) as the
    script's ``vh`` attributes."""
    _, script_id, path, botname, opchatname, config_dir, start_time, config_name = event[:8]

    def text(b: bytes) -> str:
        return b.decode(encoding, "surrogateescape")

    return _loader.ScriptAttributes(
        myid=script_id,
        path=os.fsdecode(path),
        botname=text(botname),
        opchatname=text(opchatname),
        basedir=text(config_dir),
        config_name=text(config_name),
        starttime=start_time,
        hub_encoding=encoding,
    )


def _script_file(path: str, event: tuple[Any, ...]) -> str:
    """The script file to run: a relative path is relative to the hub's
    working directory (the 11th element of the load event), not to the
    worker's (its script folder); ``vh.path`` keeps the path as given."""
    hub_cwd = event[10] if len(event) > 10 else b""
    if hub_cwd and not os.path.isabs(path):
        return os.path.join(os.fsdecode(hub_cwd), path)
    return path


def _semantics_of(event: tuple[Any, ...]) -> str:
    """Whose ``vh`` the script gets: the load event's semantics (12th
    element, from runner.toml), else the hub's generation (10th), else A
    (docs/architecture.md "Semantics")."""
    for i in (11, 9):
        if len(event) > i and event[i] in ("A", "B"):
            return str(event[i])
    return "A"


def main() -> int:
    """Runs one script until unload; returns the process exit code."""
    fd = int(os.environ.get("VH_WORKER_FD", "3"))
    channel = _core.Channel(fd, int(os.environ.get("VH_DIRECT_FD", "-1")))
    event = channel.recv_main()
    if event[0] != "load":
        print(f"vh worker: expected a load request, got {event[0]!r}", file=sys.stderr)
        return 2
    encoding = _encoding(event[8])
    attrs = _attributes(event, encoding)
    _loader.set_attributes(attrs)
    semantics = _semantics_of(event)
    _semantics.apply(semantics)
    if semantics == "B":
        _loader.add_scripts_folder(attrs.basedir)
    elif len(event) > 10 and event[10]:
        _loader.add_hub_folder(os.fsdecode(event[10]))
    rt = _runtime.Runtime(channel, encoding)
    _runtime.install(rt)
    try:
        # Only the script's own code runs here: neither plugin generation
        # calls anything of a script at load (a module-level
        # name_and_version() is the script's business, docs/abi.md §7.5),
        # so nothing the worker adds can fail a load that works in-process.
        rt.module = _loader.run_script(
            _script_file(attrs.path, event), _loader.module_name(attrs.path, semantics)
        )
    except BaseException:
        import traceback

        channel.send_loaded(False, traceback.format_exc(), [])
        return 1
    hooks = _loader.defined_hooks(rt.module)
    if _runtime.ON_SCRIPT_COMMAND not in hooks:
        hooks = sorted([*hooks, _runtime.ON_SCRIPT_COMMAND])
    channel.send_loaded(True, "", hooks)
    while not rt.pending_unload:
        event = channel.recv_main()
        kind = event[0]
        if kind == "hook":
            rt.run_hook(event[1], event[2], event[3])
        elif kind == "function":
            rt.run_function(event[1], event[2], event[3], event[4])
        elif kind == "ping":
            rt.answer_ping(event[1])
        elif kind == "unload":
            break
        elif kind == "closed":
            return 0
    rt.run_unload()
    channel.send_unloaded()
    return 0


if __name__ == "__main__":
    sys.exit(main())
