"""Which plugin generation's semantics the script runs with (``"A"`` or
``"B"``, docs/architecture.md "Semantics"): the one piece of ``vh._semantics`` the
runtime reads, kept down here so that the runtime need not import
``vh._semantics`` (which imports the ``vh.*`` functions, which import the
runtime). ``vh._semantics.apply`` sets it."""

from __future__ import annotations

#: ``"A"`` (python_pi 1.6's wrapper) or ``"B"`` (its successor's).
current = "A"


def is_b() -> bool:
    """True if the script runs with generation B's semantics."""
    return current == "B"
