# Names the function that called its hook (Python 2): vh._hook_loop's
# serve_hooks when the compiled loop (vh._native) runs the hooks, its
# serve_hooks_in_python when the Python loop does.
import sys

import vh


def OnParsedMsgChat(nick, message):
    if message == "!loop":
        vh.usermc(sys._getframe(1).f_code.co_name, nick)
        return 0
    return 1
