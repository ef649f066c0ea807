"""Writes its pid for the test, then hangs in a hook on '!hang'."""

import os
import time

with open(os.path.join(os.environ["VH_TEST_DIR"], "hang.pid"), "w") as f:
    f.write(str(os.getpid()))


def OnParsedMsgChat(nick, message):
    if message == "!hang":
        time.sleep(60)
    return 1
