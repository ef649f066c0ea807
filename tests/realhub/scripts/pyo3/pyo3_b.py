# A generation B script that uses pydantic (its core is a PyO3 extension),
# as a hub admin would for a web API: writes into
# $VH_REALHUB_OUT/pyo3.txt whether the import worked and answers ".model"
# with a validated model as JSON. $VH_REALHUB_SITE is the site-packages
# folder that holds pydantic (the hub's own Python does not have it). The
# test loads it twice, the second copy with another TAG.
import os
import sys

import vh

TAG = "first"
OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "pyo3.txt")
sys.path.insert(0, os.environ["VH_REALHUB_SITE"])


def log(*parts):
    with open(OUT, "a") as f:
        f.write("\t".join(str(p) for p in (TAG, *parts)) + "\n")


try:
    import pydantic

    class Line(pydantic.BaseModel):
        nick: str
        text: str
        length: int

    log("import", "ok")
except ImportError as e:
    Line = None
    log("import", type(e).__name__, str(e).split(",")[0])


def OnParsedMsgChat(nick, message):
    if message == ".model " + TAG and Line is not None:
        line = Line(nick=nick, text=message, length=len(message))
        vh.usermc(line.model_dump_json(), nick)
        return 0
    return 1
