# Shape: the README's "Complete Example": !info, !ops and !users answered
# in PM from the user's class, IP and country, the topic and the lists;
# logins announced by class; OnTimer doing arithmetic on its argument.
# answers: OnUserLogin OnParsedMsgChat OnTimer
import vh


def OnParsedMsgChat(nick, message):
    """Answers three commands privately."""
    if message.startswith("!info"):
        info = f"""{nick}:
class {vh.GetUserClass(nick)}, IP {vh.GetUserIP(nick)}, country {vh.GetUserCC(nick)}
{vh.GetUsersCount()} online, topic {vh.Topic()}"""
        vh.pm(info, nick)
        return 0
    elif message.startswith("!ops"):
        vh.pm(f"ops: {', '.join(vh.GetOpList())}", nick)
        return 0
    elif message.startswith("!users"):
        users = vh.GetNickList()
        vh.pm(f"{len(users)} users: {', '.join(users[:10])}", nick)
        return 0
    return 1


def OnUserLogin(nick):
    if vh.GetUserClass(nick) >= 3:
        vh.SendToOpChat(f"{nick} (operator) logged in")
    else:
        vh.SendToAll(f"welcome {nick}")
    return 1


def OnTimer(msec):
    if int(msec) % 10000 < 1000 and vh.GetUsersCount() > 100:
        vh.SendToOpChat("busy hub")
    return 1
