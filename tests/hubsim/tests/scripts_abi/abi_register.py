# abi_callers.rs "register": functions a plugin registered for this script
# before its load ("pre") and during it ("during", registered by the hub's
# GetConfig callback), called at import (generation B's Python 3).
import vh

pre = vh.CallDynamicFunction("pre", 4)
vh.GetConfig("config", "abi")
during = vh.CallDynamicFunction("during", 5)


def report():
    return "pre=%s during=%s" % (pre, during)
