# -*- coding: utf-8 -*-
"""Entry point of a Python 2 worker: ``python2.7 -m vh.worker``.

vh-runner starts one per Python 2 script, with this package on
``PYTHONPATH`` (the runner writes it into a private directory at start-up)
and the socket to the runner on fd ``VH_WORKER_FD``. Like the Python 3
worker (``py-sdk/python/vh/worker.py``) it waits for the load request,
runs the script file as ``__main__`` with its folder first on ``sys.path``
(docs/abi.md §7.5), reports the hooks it defines, then runs hooks
on its main thread until it is unloaded or the runner goes away
(docs/protocol.md "Runner ↔ worker"), with the Python 3 worker's own
switch over the events (``vh._main_loop``, shared). It always asks for
``OnScriptCommand`` so that the hub's bot renames reach ``vh.botname`` /
``vh.opchatname`` (§4.3).

A Python 2 script always gets generation A's semantics; on a generation B
hub the worker says so in one log line (docs/admin.md).
"""

import os
import sys
import traceback
import types


def _script_file(load):
    """The file to run: a relative path is relative to the hub's working
    directory; ``vh.path`` keeps the path as given."""
    path, hub_cwd = load["path"], load["hub_cwd"]
    if hub_cwd and not os.path.isabs(path):
        return os.path.join(hub_cwd, path)
    return path


def _set_attributes(load, encoding):
    import vh

    vh.myid = load["script_id"]
    vh.botname = load["botname"]
    vh.opchatname = load["opchatname"]
    vh.path = load["path"]
    vh.name = os.path.basename(load["path"])
    vh.basedir = load["config_dir"]
    vh.config_name = load["config_name"]
    vh.starttime = load["start_time"]
    vh.hub_encoding = encoding


def _run_script(path):
    """Executes the script file as ``__main__`` with its folder first on
    ``sys.path`` and ``sys.argv == [path]``; returns the module."""
    # Python 2 clears a module's globals when the module object dies: the
    # running ``vh.worker`` (``__main__`` until now) must stay referenced.
    import vh

    vh._worker_module = sys.modules.get("__main__")
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__
    sys.modules["__main__"] = module
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    with open(path, "rb") as f:
        source = f.read()
    code = compile(source, path, "exec", 0, True)
    exec(code, module.__dict__)
    return module


def _encoding(name):
    import codecs

    try:
        return codecs.lookup(name or "cp1252").name
    except LookupError:
        return "cp1252"


def main():
    """Runs one script until unload; returns the process exit code."""
    from vh import _channel, _main_loop, _runtime

    channel = _channel.Channel(
        int(os.environ.get("VH_WORKER_FD", "3")), int(os.environ.get("VH_DIRECT_FD", "-1"))
    )
    event = channel.recv_main()
    if event[0] != "load":
        sys.stderr.write("vh worker: expected a load request, got %r\n" % (event[0],))
        return 2
    load = event[1]
    encoding = _encoding(load["hub_encoding"])
    _set_attributes(load, encoding)
    name = os.path.basename(load["path"])
    rt = _runtime.Runtime(channel, load["script_id"], name)
    _runtime.install(rt)
    if load["generation"] not in ("", "A"):
        print(
            "vh: Python 2 worker on a generation %s hub: the script keeps generation A's "
            "semantics (docs/admin.md)" % load["generation"]
        )
    try:
        # A's sys.path[0] was '' (the hub's working directory, docs/abi.md §7.5):
        # it stays importable, after the script's folder.
        if load["hub_cwd"] and load["hub_cwd"] not in sys.path:
            sys.path.insert(0, load["hub_cwd"])
        # Only the script's own code runs here, as in python_pi 1.6: a
        # module-level name_and_version() is not called (docs/abi.md §7.5).
        rt.module = _run_script(_script_file(load))
    except BaseException:
        error = traceback.format_exc()
        channel.send_loaded(False, error, [])
        return 1
    _main_loop.serve_script(rt, channel, _main_loop.TUPLES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
