# The bench's script (Python 3): answers every ".b <n>" chat line with one
# vh.usermc to its sender and blocks the line.
import vh


def OnParsedMsgChat(nick, message):
    if message.startswith(".b "):
        vh.usermc("ok " + message[3:], nick)
        return 0
    return 1
