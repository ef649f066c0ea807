"""Loading a script the way python_pi's generation A does (spec/wrapper-abi.md
§7.5), shared by the worker and ``vh.testing``: the ``vh`` module's
attributes first (§7.3), then the file runs as ``__main__`` with its folder
on ``sys.path``, then the hooks it defines are found by name.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass

import vh

from ._hooks import HOOK_NAMES


@dataclass(frozen=True)
class ScriptAttributes:
    """The values of ``vh.myid``, ``vh.botname``, … for one script (§7.3).
    ``name`` (the file name) is derived from ``path``."""

    myid: int
    path: str
    botname: str = "Verlihub"
    opchatname: str = "OpChat"
    basedir: str = ""
    config_name: str = "config"
    starttime: int = 0
    hub_encoding: str = "cp1252"


def set_attributes(attrs: ScriptAttributes) -> None:
    """Sets the ``vh`` module's attributes for the script about to load."""
    vh.myid = attrs.myid
    vh.botname = attrs.botname
    vh.opchatname = attrs.opchatname
    vh.path = attrs.path
    vh.name = os.path.basename(attrs.path)
    vh.basedir = attrs.basedir
    vh.config_name = attrs.config_name
    vh.starttime = attrs.starttime
    vh.hub_encoding = attrs.hub_encoding


def run_script(path: str) -> types.ModuleType:
    """Executes the script file as ``__main__`` (generation A) with its
    folder first on ``sys.path`` and ``sys.argv == [path]``, and returns the
    module. Exceptions of the script's top-level code propagate."""
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    exec(code, module.__dict__)
    return module


def defined_hooks(module: types.ModuleType) -> list[int]:
    """Indices of the hooks the script defines: "attribute exists and is
    callable", as the plugin decides at load (§7.5)."""
    return [i for i, n in enumerate(HOOK_NAMES) if callable(getattr(module, n, None))]
