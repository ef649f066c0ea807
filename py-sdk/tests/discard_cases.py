"""Cases for ``vh._discard``, runnable on CPython 2.7 and 3.9+
as ``python discard_cases.py PATH/TO/_discard.py [EXTENSION]``: loads that
file alone (no ``vh`` package) and prints one JSON object: the version,
whether the module knows it, its tables checked against ``dis``, and the
cases it got wrong. ``test_pipeline.py`` runs it on every interpreter it
finds. With ``EXTENSION`` (the path of ``vh._core``'s or ``vh._native``'s
shared object) the cases ask that module's compiled ``caller_discards``
instead, given the file's ``RULES`` (``test_pipeline.py`` and
``test_py2_native.py``), and the JSON says whether ``vh._core`` read the
frames' records directly (``frames_known``). Python 2.7 syntax, like the module it tests."""

import dis
import functools
import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any  # noqa: F401 (used in type comments)

seen = []  # type: list[bool]
m = None  # type: Any


def python_check(nargs):
    # type: (int) -> bool
    """The Python test of ``f``'s caller (two frames up from here)."""
    return m.discarded(sys._getframe(2), nargs)


#: ``check(nargs)``: asked by :func:`f` about its caller.
check = python_check


def f(*args, **kwargs):
    seen.append(check(len(args) + len(kwargs)))
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


def _generator():
    f(1, 2)
    yield 1


def in_generator():
    # The caller is a generator's frame (its record owned by the generator).
    list(_generator())


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
    "in_generator": True,
}


def tables_match_dis():
    # type: () -> list[str]
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
        # Star calls wait: 3.x CALL_FUNCTION_EX, 2.7 every CALL_FUNCTION_*.
        star = name == "CALL_FUNCTION_EX" or (sys.version_info[0] == 2 and name != "CALL_FUNCTION")
        if not name.startswith("CALL") or star:
            problems.append("opcode %d is %s" % (op, name))
        want = 0
        if isinstance(caches, dict):
            want = caches.get(name, 0) or 0
        elif caches is not None:
            want = caches[op]
        if calls[op] != want:
            problems.append("%s caches %d != %d" % (name, calls[op], want))
    return problems


def load(path):
    # type: (str) -> Any
    """The module at ``path``, loaded alone."""
    if sys.version_info[0] == 2:
        import imp

        return imp.load_source("_discard", path)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_discard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_extension(path):
    # type: (str) -> Any
    """The compiled module at ``path`` (``_core`` or ``_native``), alone."""
    name = os.path.basename(path).split(".")[0]
    if sys.version_info[0] == 2:
        import imp

        return imp.load_dynamic(name, path)
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def run(python, discard_py, extension=None, env=None):
    # type: (str, str, Any, Any) -> Any
    """This file's JSON, run by ``python`` on ``discard_py`` (and the
    compiled ``extension``, if given; ``env`` added to the environment):
    for the tests, on Python 3."""
    import os
    import subprocess

    args = [python, "-B", __file__, str(discard_py)] + ([str(extension)] if extension else [])
    got = subprocess.run(
        args, capture_output=True, text=True, timeout=60, env=dict(os.environ, **(env or {}))
    )
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


def main():
    # type: () -> None
    global m, check
    m = load(sys.argv[1])
    extension = None
    if len(sys.argv) > 2:
        # A C function: the innermost Python frame is f's, as it is the
        # classic function's when it calls the channel's send_as_is.
        extension = load_extension(sys.argv[2])
        check = functools.partial(extension.caller_discards, m.RULES)
    wrong = {}
    for name, want in WANT.items():
        del seen[:]
        globals()[name]()
        if seen[0] != want:
            wrong[name] = seen[0]
    known = m.supported()
    print(
        json.dumps(
            {
                "version": list(sys.version_info[:2]),
                "supported": known,
                "compiled": len(sys.argv) > 2,
                # vh._core's: whether it read the frames' records directly
                # (decided at its first test above); None for vh._native.
                "frames_known": getattr(extension, "frames_known", lambda: None)(),
                "tables": tables_match_dis() if known else [],
                "wrong": wrong,
            }
        )
    )


if __name__ == "__main__":
    main()
