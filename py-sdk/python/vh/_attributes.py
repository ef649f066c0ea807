# -*- coding: utf-8 -*-
"""What the ``vh`` module holds in both workers besides its tables: the
attributes a load sets (docs/abi.md §7.3; ``vh.testing`` restores them
when a fake hub closes), the other names both export, and how the classic
functions get in.

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterable  # noqa: F401 (used in type comments)

#: The attributes python_pi gave, by name (§7.3).
ATTRIBUTES = (
    "myid",
    "botname",
    "opchatname",
    "name",
    "path",
    "basedir",
    "config_name",
    "starttime",
)  # type: tuple[str, ...]

#: Names both ``vh`` modules export besides the classic functions, the
#: constants and :data:`ATTRIBUTES`: vh-runner's ``hub_encoding``, the
#: hub-encoding helpers and generation B's spellings of them (docs/abi.md
#: §7.2), and the errors both raise.
SHARED_NAMES = (
    "hub_encoding",
    "encode",
    "decode",
    "Encode",
    "Decode",
    "VhError",
    "NotConnectedError",
    "MessageTooBigError",
)  # type: tuple[str, ...]


def add_functions(namespace, functions):
    # type: (dict[str, object], Iterable[Callable[..., object]]) -> None
    """Puts each classic function (``vh._api.CLASSIC_FUNCTIONS``) into the
    ``vh`` module's ``namespace`` under its name, and generation B's
    spellings ``Encode`` / ``Decode`` of its ``encode`` / ``decode``
    (docs/abi.md §7.2)."""
    for fn in functions:
        namespace[fn.__name__] = fn
    namespace["Encode"] = namespace["encode"]
    namespace["Decode"] = namespace["decode"]
