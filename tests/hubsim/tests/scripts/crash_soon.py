"""Loads fine, then its process dies with code 3 a moment later: a crash loop."""

import os
import threading

threading.Timer(0.3, lambda: os._exit(3)).start()


def OnUserLogin(nick):
    return 1
