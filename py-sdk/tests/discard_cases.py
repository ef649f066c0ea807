"""Cases for ``vh._discard`` (issue 17), runnable on any CPython 3.9+ as
``python discard_cases.py PATH/TO/_discard.py``: loads that file alone (no
``vh`` package, no extension) and prints one JSON object: the version,
whether the module knows it, its tables checked against ``dis``, and the
cases it got wrong. ``test_pipeline.py`` runs it on every interpreter it
finds."""

from __future__ import annotations

import dis
import importlib.util
import json
import sys

seen: list[bool] = []
m = None


def f(*args, **kwargs):
    seen.append(m.discarded(sys._getframe(1), len(args) + len(kwargs)))
    return True


class Obj:
    pass


o = Obj()
o.f = f


def stmt():
    f(1, 2)


def keywords():
    f(1, b=2)


def method():
    o.f(1, 2)


def no_args():
    f()


def last_in_function_with_return():
    f(1)
    return None


def in_try():
    try:
        f(1, 2)
    except Exception:
        pass


def in_loop():
    for _ in range(1):
        f(1, 2)


def assigned():
    x = f(1, 2)
    return x


def returned():
    return f(1, 2)


def argument():
    str(f(1, 2))


def star_call():
    f(*(1, 2))


def condition():
    if f(1, 2):
        pass


def through_map():
    list(map(f, [1], [2]))


def in_lambda():
    (lambda: f(1, 2))()


def bool_op():
    f(1) or f(2)


def in_comprehension():
    [f(1) for _ in range(1)]


WANT = {
    "stmt": True,
    "keywords": True,
    "method": True,
    "no_args": True,
    "last_in_function_with_return": True,
    "in_try": True,
    "in_loop": True,
    "assigned": False,
    "returned": False,
    "argument": False,
    "star_call": False,
    "condition": False,
    "through_map": False,
    "in_lambda": False,
    "bool_op": False,
    "in_comprehension": False,
}


def tables_match_dis() -> list[str]:
    """Differences between the module's table for this version and dis."""
    calls, pop_top, extended_arg = m.TABLES[sys.version_info[:2]]
    problems = []
    if dis.opmap["POP_TOP"] != pop_top:
        problems.append("POP_TOP")
    if dis.opmap["EXTENDED_ARG"] != extended_arg:
        problems.append("EXTENDED_ARG")
    caches = getattr(dis, "_inline_cache_entries", None)
    for op in calls:
        name = dis.opname[op]
        if not name.startswith("CALL") or name == "CALL_FUNCTION_EX":
            problems.append(f"opcode {op} is {name}")
        want = 0
        if isinstance(caches, dict):
            want = caches.get(name, 0) or 0
        elif caches is not None:
            want = caches[op]
        if calls[op] != want:
            problems.append(f"{name} caches {calls[op]} != {want}")
    return problems


def main() -> None:
    global m
    spec = importlib.util.spec_from_file_location("_discard", sys.argv[1])
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    wrong = {}
    for name, want in WANT.items():
        seen.clear()
        globals()[name]()
        if seen[0] != want:
            wrong[name] = seen[0]
    known = m.supported()
    print(
        json.dumps(
            {
                "version": list(sys.version_info[:2]),
                "supported": known,
                "tables": tables_match_dis() if known else [],
                "wrong": wrong,
            }
        )
    )


if __name__ == "__main__":
    main()
