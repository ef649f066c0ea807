"""Loading a script the way python_pi's generation A does (docs/abi.md
§7.5), shared by the worker and ``vh.testing``: the ``vh`` module's
attributes first (§7.3), then the file runs as ``__main__`` with its folder
on ``sys.path``; the hooks it defines are then found by name
(``vh._main_loop.defined_hooks``).
"""

from __future__ import annotations

import os
import sys
import types

import vh

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ScriptAttributes:
    """The values of ``vh.myid``, ``vh.botname``, … for one script (§7.3).
    ``name`` (the file name) is derived from ``path``. Immutable by
    convention; a plain class, not a dataclass, so that a worker does not
    import ``dataclasses`` (docs/performance.md, idle RSS)."""

    __slots__ = (
        "myid",
        "path",
        "botname",
        "opchatname",
        "basedir",
        "config_name",
        "starttime",
        "hub_encoding",
    )

    def __init__(
        self,
        myid: int,
        path: str,
        botname: str = "Verlihub",
        opchatname: str = "OpChat",
        basedir: str = "",
        config_name: str = "config",
        starttime: int = 0,
        hub_encoding: str = "cp1252",
    ) -> None:
        self.myid = myid
        self.path = path
        self.botname = botname
        self.opchatname = opchatname
        self.basedir = basedir
        self.config_name = config_name
        self.starttime = starttime
        self.hub_encoding = hub_encoding

    def replace(self, **changes: Any) -> ScriptAttributes:
        """A copy with ``changes`` (as ``dataclasses.replace``)."""
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return ScriptAttributes(**values)

    def __eq__(self, other: object) -> bool:
        return type(other) is ScriptAttributes and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__
        )

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"ScriptAttributes({fields})"


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


def module_name(path: str, semantics: str) -> str:
    """The script module's ``__name__``: ``__main__`` as generation A runs
    it, the file name without ``.py`` as B imports it (§7.5: B's
    ``if __name__ == '__main__':`` blocks do not run)."""
    if semantics != "B":
        return "__main__"
    base = os.path.basename(path)
    return base[:-3] if base.endswith(".py") else base


def add_scripts_folder(basedir: str) -> None:
    """Generation B's import path (§7.5): ``<config_dir>/scripts`` on
    ``sys.path`` too (after the script's own folder, which
    :func:`run_script` puts first)."""
    if basedir:
        folder = os.path.join(basedir, "scripts")
        if folder not in sys.path:
            sys.path.insert(0, folder)


def add_hub_folder(hub_cwd: str) -> None:
    """Generation A's import path (§7.5): A's ``sys.path[0]`` was ``''``,
    the hub's working directory, so a module there imports as it did in
    the hub; it goes after the script's own folder, which
    :func:`run_script` puts first."""
    if hub_cwd and hub_cwd not in sys.path:
        sys.path.insert(0, hub_cwd)


def run_script(path: str, name: str = "__main__") -> types.ModuleType:
    """Executes the script file as module ``name`` (``__main__``:
    generation A; see :func:`module_name`) with its folder first on
    ``sys.path`` and ``sys.argv == [path]``, and returns the module.
    Exceptions of the script's top-level code propagate."""
    module = types.ModuleType(name)
    module.__file__ = path
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules[name] = module
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    exec(code, module.__dict__)
    return module
