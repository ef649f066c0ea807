"""A script written for python_pi 1.7 (generation B), unchanged: it treats
``None`` as "not set", as B's ``vh`` gives it for an empty string
(docs/abi.md §7.1), and it relies on B's module being imported,
not run as ``__main__`` (§7.5). tests/hubsim/tests/semantics.rs.

``OnPublicBotMessage('b_style', <nick>, 0, 0)`` answers ``(report, 1)``:
the hub description and the user's fields the way a REST endpoint of a
B script shows them.
"""

import os
import sys

import vh

RAN_AS_MAIN = False


def hub_description():
    desc = vh.GetConfig("config", "hub_desc")
    return desc if desc is not None else "DC++ Hub"


def user(nick):
    host = vh.GetUserHost(nick)
    cc = vh.GetUserCC(nick)
    return {
        "nick": nick,
        "ip": vh.GetUserIP(nick),
        "host": "unresolved" if host is None else host,
        "country_code": "??" if cc is None else cc,
        "class": vh.GetUserClass(nick),
    }


def OnPublicBotMessage(nick, message, min_class, max_class):
    if nick != "b_style":
        return None
    report = {
        "description": hub_description(),
        "user": user(message),
        "name": vh.name,
        "has_version": hasattr(vh, "__version__"),
        "restricted": vh.UserRestrictions(message),
        "ran_as_main": RAN_AS_MAIN,
        # B puts <config_dir>/scripts on the import path too (docs/abi.md §7.5).
        "scripts_folder_on_path": os.path.join(vh.basedir, "scripts") in sys.path,
    }
    return (ascii(sorted(report.items())), 1)


if __name__ == "__main__":
    # B imports the script as a module: this never ran there.
    RAN_AS_MAIN = True
