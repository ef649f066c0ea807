# Shape: the examples README's "cache-based data access" (hub_api.py): a
# dict under a lock, refreshed from OnTimer(msec=0) with GetConfig and
# GetUsersCount, read by a web handler thread; a CONFIG dict of settings
# and a decoding helper with the hub's 8-bit encoding as its default.
# answers: OnTimer
import threading
import time

import vh

CONFIG = {"api_port": 0, "refresh_s": 1.0, "hub_encoding": "cp1251"}
data_cache = {"hub_info": {}, "users": [], "last_update": 0}
data_cache_lock = threading.Lock()


def safe_decode(text, hub_encoding="cp1251"):
    if isinstance(text, bytes):
        return text.decode(hub_encoding, "replace")
    return text


def OnTimer(msec=0):
    with data_cache_lock:
        data_cache["hub_info"] = {
            "name": safe_decode(vh.GetConfig("config", "hub_name"), CONFIG["hub_encoding"]),
            "users": vh.GetUsersCount(),
        }
        data_cache["users"] = vh.GetNickList()
        data_cache["last_update"] = time.time()
    return 1
