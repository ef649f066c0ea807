# abi_callers.rs: a script with one hook that calls the hub (Python 2 and 3).
import vh


def OnNewConn(ip):
    vh.GetUsersCount()
    return 1
