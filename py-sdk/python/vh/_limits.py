# -*- coding: utf-8 -*-
"""Limits both workers keep, the Python 3 one and the Python 2 one alike.

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax.
"""

#: Deepest nesting of hooks (and ``w_CallFunction`` calls) inside ``vh.*``
#: calls inside hooks; a Python 3 worker's ``async`` hooks still running
#: count as one level each. Past it a hook is not called and the hub goes
#: on as if it allowed. The shim bounds the hub thread's nesting too, above
#: this one (host-shim's ``MAX_NESTED_WAITS``, docs/abi.md §9.2), so that a
#: worker's own limit is the one a script meets; ``py-sdk/tests/test_limits.py``
#: holds that order.
MAX_DEPTH = 32

#: The range of a C long (64-bit, the hub's ``long``): hub integers outside
#: it are clamped (hook results) or refused (``vh.*`` arguments, function
#: results).
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
