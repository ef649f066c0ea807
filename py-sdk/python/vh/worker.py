"""Entry point of a worker process: ``python -m vh.worker``.

vh-runner starts one per script with the socket to the runner on fd
``VH_WORKER_FD`` and, when the hub takes direct links, the direct link to
the hub on fd ``VH_DIRECT_FD`` (docs/protocol.md "Direct links"). The
worker waits for the load request, runs the script file the way python_pi
does (docs/abi.md §7.5: as ``__main__``, with its folder on
``sys.path``), reports which hooks it defines, then runs
hooks and function calls (generation B's ``w_CallFunction``) on its main
thread until it is unloaded or the runner goes away (docs/protocol.md
"Runner ↔ worker"; the switch over the events is ``vh._main_loop``, shared
with the Python 2 worker). ``async def`` hooks run on the worker's asyncio
loop (see ``vh._hook_dispatch``).

It always asks for ``OnScriptCommand``, defined or not, so that the hub's
bot renames reach ``vh.botname``/``vh.opchatname`` in every script (docs/abi.md
§4.3; the hub does not wait for that hook).
"""

from __future__ import annotations

import codecs
import os
import sys

from . import _core, _loader, _main_loop, _runtime, _semantics


def _encoding(name: str) -> str:
    try:
        return codecs.lookup(name or "cp1252").name
    except LookupError:
        print(f"vh: unknown hub encoding {name!r}; using cp1252", flush=True)
        return "cp1252"


def _attributes(load: _core.LoadEvent, encoding: str) -> _loader.ScriptAttributes:
    """The load request (see ``_core.Channel.recv_main``) as the script's
    ``vh`` attributes."""

    def text(b: bytes) -> str:
        return b.decode(encoding, "surrogateescape")

    return _loader.ScriptAttributes(
        myid=load.script_id,
        path=os.fsdecode(load.path),
        botname=text(load.botname),
        opchatname=text(load.opchatname),
        basedir=text(load.config_dir),
        config_name=text(load.config_name),
        starttime=load.start_time,
        hub_encoding=encoding,
    )


def _script_file(path: str, load: _core.LoadEvent) -> str:
    """The script file to run: a relative path is relative to the hub's
    working directory (``hub_cwd``), not to the worker's (its script
    folder); ``vh.path`` keeps the path as given."""
    if load.hub_cwd and not os.path.isabs(path):
        return os.path.join(os.fsdecode(load.hub_cwd), path)
    return path


def _semantics_of(load: _core.LoadEvent) -> str:
    """Whose ``vh`` the script gets: the load request's ``semantics``
    (from runner.toml), else the hub's ``generation``, else A
    (docs/architecture.md "Semantics")."""
    for value in (load.semantics, load.generation):
        if value in ("A", "B"):
            return value
    return "A"


def main() -> int:
    """Runs one script until unload; returns the process exit code."""
    fd = int(os.environ.get("VH_WORKER_FD", "3"))
    channel = _core.Channel(fd, int(os.environ.get("VH_DIRECT_FD", "-1")))
    load = channel.recv_main()
    if not isinstance(load, _core.LoadEvent):
        print(f"vh worker: expected a load request, got {load.kind!r}", file=sys.stderr)
        return 2
    encoding = _encoding(load.hub_encoding)
    attrs = _attributes(load, encoding)
    _loader.set_attributes(attrs)
    semantics = _semantics_of(load)
    _semantics.apply(semantics)
    if semantics == "B":
        _loader.add_scripts_folder(attrs.basedir)
    elif load.hub_cwd:
        _loader.add_hub_folder(os.fsdecode(load.hub_cwd))
    rt = _runtime.Runtime(channel, encoding)
    _runtime.install(rt)
    try:
        # Only the script's own code runs here: neither plugin generation
        # calls anything of a script at load (a module-level
        # name_and_version() is the script's business, docs/abi.md §7.5),
        # so nothing the worker adds can fail a load that works in-process.
        rt.module = _loader.run_script(
            _script_file(attrs.path, load), _loader.module_name(attrs.path, semantics)
        )
    except BaseException:
        import traceback

        channel.send_loaded(False, traceback.format_exc(), [])
        return 1
    _main_loop.serve_script(rt, channel, _main_loop.NAMED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
