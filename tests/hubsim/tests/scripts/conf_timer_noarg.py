"""Conformance script: an old-style ``OnTimer`` without the time argument
(docs/abi.md §7.6), as many generation A scripts have. Reports the
call through ``vh.SendToOpChat`` and returns the test's choice, like
conf_hooks.py."""

import os

import vh

_CHOICE = os.path.join(os.environ["VH_TEST_DIR"], "conf_return.txt")


def OnTimer():
    vh.SendToOpChat("OnTimer()")
    try:
        with open(_CHOICE) as f:
            return eval(f.read())
    except FileNotFoundError:
        return None
