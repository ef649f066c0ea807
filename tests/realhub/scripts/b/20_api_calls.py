# Calls many vh functions and writes each result or exception (its repr)
# into $VH_REALHUB_OUT/api_calls.txt: some at import time, the rest when
# the operator says "!api" in main chat. Python 3, as python_pi 1.7 runs it.
import os

import vh

OUT = os.path.join(os.environ["VH_REALHUB_OUT"], "api_calls.txt")
OP = "op"
USER = "plain"
# GetGeoIP fields the hub does not set for a private address.
UNSET_GEO = ("latitude", "longitude", "metro_code")


def write(line):
    with open(OUT, "a", encoding="utf-8", errors="backslashreplace") as f:
        print(line, file=f)


def call(label, name, *args):
    try:
        result = getattr(vh, name)(*args)
    except Exception as e:
        result = "raised %s: %s" % (type(e).__name__, e)
    write("%s\t%r" % (label, result))
    return result


def attr(name):
    write("attr %s\t%r" % (name, getattr(vh, name, "<missing>")))


# at import time
for _a in ("botname", "opchatname", "name", "path", "myid", "hub_encoding"):
    attr(_a)
call("import GetUsersCount", "GetUsersCount")
call("import GetConfig hub_name", "GetConfig", "config", "hub_name")
call("import Topic", "Topic")
call("import GetNickList", "GetNickList")
call("import name_and_version", "name_and_version")
call("import SQL", "SQL", "SELECT nick, class FROM reglist ORDER BY nick")


def api_round():
    call("GetNickList", "GetNickList")
    call("GetOpList", "GetOpList")
    call("GetBotList", "GetBotList")
    call("GetRawNickList", "GetRawNickList")
    call("GetRawOpList", "GetRawOpList")
    call("GetRawBotList", "GetRawBotList")
    call("GetMyINFO user", "GetMyINFO", USER)
    call("GetMyINFO nobody", "GetMyINFO", "nobody")
    call("GetUserClass op", "GetUserClass", OP)
    call("GetUserClass user", "GetUserClass", USER)
    call("GetUserClass nobody", "GetUserClass", "nobody")
    call("GetUserHost user", "GetUserHost", USER)
    call("GetUserIP user", "GetUserIP", USER)
    call("GetUserCC user", "GetUserCC", USER)
    call("GetIPCC", "GetIPCC", "127.0.0.1")
    call("GetUserHubURL user", "GetUserHubURL", USER)
    call("GetUserExtJSON user", "GetUserExtJSON", USER)
    call("GetUsersCount", "GetUsersCount")
    call("GetTotalShareSize", "GetTotalShareSize")
    call("GetConfig hub_name", "GetConfig", "config", "hub_name")
    call("GetConfig max_users", "GetConfig", "config", "max_users")
    call("GetConfig missing", "GetConfig", "config", "no_such_variable")
    call("SetConfig max_users", "SetConfig", "config", "max_users", "321")
    call("GetConfig max_users after", "GetConfig", "config", "max_users")
    call("Topic", "Topic")
    call("Topic set", "Topic", "a topic set by a script")
    call("Topic after", "Topic")
    call("AddRobot", "AddRobot", "TestBot", 10, "a test bot", "100", "bot@example.org", "0")
    call("GetBotList with bot", "GetBotList")
    call("GetUserClass bot", "GetUserClass", "TestBot")
    call("usermc", "usermc", "usermc to op", OP)
    call("usermc from bot", "usermc", "usermc from the bot", OP, "TestBot")
    call("pm", "pm", "pm to op", OP)
    call("pm from bot", "pm", "pm from the bot", OP, "TestBot")
    call("SendDataToUser", "SendDataToUser", "<Raw> raw data to op|", OP)
    call("SendToOpChat", "SendToOpChat", "to the op chat")
    call("SendPMToAll", "SendPMToAll", "pm to everyone", "TestBot", 0, 10)
    call("AddRegUser", "AddRegUser", "newreg", 1, "pw123", OP)
    call("SetRegClass", "SetRegClass", "newreg", 2)
    call("DelRegUser", "DelRegUser", "newreg")
    call("SetMyINFO user", "SetMyINFO", USER, "a new description")
    call("GetMyINFO user after", "GetMyINFO", USER)
    call("DelRobot", "DelRobot", "TestBot")
    call("GetBotList after", "GetBotList")
    call("DelNickTempBan", "DelNickTempBan", "nobody")
    call("GetIPCN", "GetIPCN", "127.0.0.1")
    call("GetIPASN", "GetIPASN", "127.0.0.1")
    call("SendDataToAll", "SendDataToAll", "<Raw> raw data to all|", 0, 10)
    call("mc", "mc", "main chat from a script")
    call("classmc", "classmc", "to classes 3 to 10", 3, 10)
    call("SQL", "SQL", "SELECT nick, class FROM reglist ORDER BY nick")
    call("IsRobotNickBad", "IsRobotNickBad", "Bad Nick")
    call("GetServFreq", "GetServFreq")
    call("UserRestrictions set", "UserRestrictions", USER, "1h")
    call("UserRestrictions lift", "UserRestrictions", USER, "0")
    call("Ban nobody", "Ban", OP, "nobody", "a test ban", 60, 0)
    call("DelIPTempBan", "DelIPTempBan", "10.9.9.9")
    call("ScriptCommand", "ScriptCommand", "a_cmd", "its data", 1)
    # The hub leaves a private range's coordinates and metro code
    # uninitialised (a new value every run, in-process too): left out.
    geo = vh.GetGeoIP("127.0.0.1")
    if isinstance(geo, dict):
        geo = sorted((k, v) for k, v in geo.items() if k not in UNSET_GEO)
    write("GetGeoIP\t%r" % (geo,))


def OnParsedMsgChat(nick, message):
    if nick == OP and message == ".api":
        api_round()
        return 0
    return 1


def UnLoad():
    write("UnLoad")
