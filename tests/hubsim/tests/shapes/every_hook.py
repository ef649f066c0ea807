# Shape: the README's "Available Hooks" list: every hook it names defined
# with the README's parameter names and a bare `pass` body (None: A allows,
# B blocks, docs/abi.md §4.3).
# answers: OnUserLogin OnUserLogout OnParsedMsgChat OnParsedMsgPM OnTimer
def OnNewConn(ip): pass
def OnCloseConn(ip): pass
def OnCloseConnEx(ip, reason_code, nick): pass
def OnUserLogin(nick): pass
def OnUserLogout(nick): pass
def OnUserInList(nick): pass
def OnParsedMsgChat(nick, message): pass
def OnParsedMsgPM(nick, message, target): pass
def OnParsedMsgSearch(nick, search_query): pass
def OnParsedMsgSR(nick, search_result): pass
def OnParsedMsgMyINFO(nick, desc, tag, speed, email, share): pass
def OnFirstMyINFO(nick, desc, tag, speed, email, share): pass
def OnOperatorCommand(nick, command): pass
def OnOperatorKicks(op_nick, nick, reason): pass
def OnOperatorDrops(op_nick, nick): pass
def OnTimer(milliseconds): pass
def OnNewReg(nick, user_class, op_nick): pass
def OnNewBan(ip, nick, op_nick, reason): pass
def OnSetConfig(config, variable, value): pass
