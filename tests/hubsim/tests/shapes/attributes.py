# Shape: the README's "Module Attributes": each one printed at import.
# answers: OnParsedMsgChat
import vh

print(vh.myid)
print(vh.botname)
print(vh.opchatname)
print(vh.name)
print(vh.path)
print(vh.config_name)


def OnParsedMsgChat(nick, message):
    return 1
