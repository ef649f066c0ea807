"""The py-sdk keeps the shape (module sizes, no import cycles), as ``tools/structure.py``
measures it: no module of the ``vh`` package or of ``vh._core``'s crate
imports itself round a cycle, no hand-written file is over the line limit,
and the runtime's layers import one way (each only the ones below it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]

#: ``vh._runtime``'s layers, top first (its module doc): each may import
#: only those after it. The last two are shared with the Python 2 worker.
LAYERS = [
    "vh._runtime",
    "vh._calls",
    "vh._function_calls",
    "vh._hook_dispatch",
    "vh._script_state",
    "vh._generation",
    "vh._main_loop",
    "vh._limits",
]


def _structure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("structure", ROOT / "tools" / "structure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_vh_package_has_no_import_cycle_and_no_long_file() -> None:
    s = _structure()
    folder = ROOT / "py-sdk" / "python" / "vh"
    edges = s.python_edges("vh", folder)
    assert "vh._runtime" in edges and "vh._calls" in edges
    assert s.cycles(edges) == []
    long = [f.name for f in folder.glob("*.py") if len(f.read_text().splitlines()) > s.MAX_LINES]
    assert long == []


def test_the_core_crate_has_no_module_cycle_and_no_long_file() -> None:
    s = _structure()
    src = ROOT / "py-sdk" / "src"
    edges = s.rust_edges(src)
    assert ("transport",) in edges and ("channel",) in edges
    assert s.cycles(edges) == []
    long = [str(f) for f in src.rglob("*.rs") if len(f.read_text().splitlines()) > s.MAX_LINES]
    assert long == []
    # The transport knows nothing of its Python object.
    assert ("channel",) not in edges[("transport",)]


def test_the_runtime_layers_import_only_the_layers_below() -> None:
    edges = _structure().python_edges("vh", ROOT / "py-sdk" / "python" / "vh")
    for i, layer in enumerate(LAYERS):
        above = set(LAYERS[:i])
        assert not edges[layer] & above, f"{layer} imports {edges[layer] & above}"
    # The runtime reads the script's generation without vh._semantics,
    # which imports the vh.* functions, which import the runtime.
    assert all("vh._semantics" not in edges[layer] for layer in LAYERS)
