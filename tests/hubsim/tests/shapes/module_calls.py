# Shape: the README's tour of the vh module as top-level code: sends, a
# class lookup, a kick and a ban of users who are not there, the user
# lists and the count, all at import.
# answers: OnParsedMsgChat
import vh

vh.SendToOpChat("module_calls loading")
vh.pm("nobody is called so", "nobody_here")
absent_class = vh.GetUserClass("nobody_here")
kicked = vh.KickUser("nobody_op", "nobody_here", "testing a kick")
banned = vh.Ban("nobody_op", "nobody_here", "testing a ban", 3600, 1)
nicks = vh.GetNickList()
ops = vh.GetOpList()
count = vh.GetUsersCount()


def OnParsedMsgChat(nick, message):
    return 1
