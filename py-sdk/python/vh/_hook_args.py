"""The arguments of every hook of python_pi (docs/abi.md §4.1), by
hook index (see ``_hooks``); used by ``vh.testing`` to call hooks.
"""

from __future__ import annotations

from typing import NamedTuple


class HookArgs(NamedTuple):
    """A hook's arguments: the plugin's ``w_pack`` format (``s`` str, ``l``
    int, ``d`` float) and a name for each (docs/abi.md §4.1)."""

    format: str
    names: tuple[str, ...]


def _a(fmt: str, names: str) -> HookArgs:
    args = HookArgs(fmt, tuple(names.split()))
    if len(args.format) != len(args.names):
        raise ValueError(f"{fmt!r} does not match {names!r}")
    return args


_MYINFO = _a("ssssss", "nick desc tag speed email share")

#: The arguments of every hook, by hook index (docs/abi.md §4.1).
HOOK_ARGS: tuple[HookArgs, ...] = (
    _a("s", "ip"),
    _a("s", "ip"),
    _a("sls", "ip reason nick"),
    _a("ss", "nick message"),
    _a("sss", "nick message to_nick"),
    _a("sss", "nick message to_nick"),
    _a("ss", "nick search"),
    _a("ss", "nick sr"),
    _MYINFO,
    _MYINFO,
    _a("s", "nick"),
    _a("ss", "nick message"),
    _a("ss", "ip message"),
    _a("ss", "nick message"),
    _a("ssll", "nick message min_class max_class"),
    _a("l", "code"),
    _a("sslls", "nick ip port hub_port referrer"),
    _a("sss", "ip message hub_supports"),
    _a("ss", "nick message"),
    _a("ss", "nick message"),
    _a("ss", "nick message"),
    _a("ss", "ip message"),
    _a("ss", "nick password"),
    _a("ssss", "nick other_nick ip port"),
    _a("ss", "nick other_nick"),
    _a("ss", "nick message"),
    _a("ss", "nick command"),
    _a("sss", "op_nick nick reason"),
    _a("ss", "op_nick nick"),
    _a("sss", "op_nick nick reason"),
    _a("ss", "nick tag"),
    _a("ss", "nick command"),
    _a("sslls", "nick command uclass in_pm prefix"),
    _a("ssss", "command data plugin script"),
    _a("s", "nick"),
    _a("s", "nick"),
    _a("s", "nick"),
    _a("d", "now"),
    _a("ssl", "op_nick nick uclass"),
    _a("ssss", "op_nick ip nick reason"),
    _a("sssssl", "nick conf var new_value old_value type_id"),
)
