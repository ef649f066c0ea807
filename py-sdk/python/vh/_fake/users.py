"""The fake hub's callbacks, part 1: sending, users, lists (docs/abi.md
§6.3). Each gets the decoded arguments the plugin unpacks and
returns ``(ok, values)``. The fake records every call before it runs, so
the sending callbacks only check their arguments as the hub does.
"""

from __future__ import annotations

from typing import Any, Optional

from .state import FAIL, OK, Answer, HubState


class UserCallbacks(HubState):
    """Callbacks about sending, users and lists."""

    def SendToOpChat(self, text: Optional[str], from_nick: Optional[str]) -> Answer:
        return OK if text is not None else FAIL

    def _send_all(self, data: Optional[str], *_: Any) -> Answer:
        return OK if data is not None else FAIL

    SendToActive = SendToPassive = _send_all
    SendToActiveClass = SendToPassiveClass = SendDataToAll = _send_all

    def SendDataToUser(self, data: Optional[str], nick: Optional[str], delay: int) -> Answer:
        return OK if data is not None and self.user(nick) else FAIL

    def SendPMToAll(self, text: Optional[str], from_nick: Optional[str], *_: int) -> Answer:
        return OK if text is not None and from_nick is not None else FAIL

    def mc(self, text: Optional[str], from_nick: Optional[str]) -> Answer:
        return OK if text is not None else FAIL

    def usermc(self, text: Optional[str], nick: Optional[str], from_nick: Optional[str]) -> Answer:
        return OK if text is not None and self.user(nick) else FAIL

    def classmc(self, text: Optional[str], lo: int, hi: int, from_nick: Optional[str]) -> Answer:
        return OK if text is not None else FAIL

    def pm(self, text: Optional[str], nick: Optional[str], *_: Optional[str]) -> Answer:
        return OK if text is not None and self.user(nick) else FAIL

    # -- users -----------------------------------------------------------------

    def CloseConnection(self, nick: Optional[str], delay_ms: int, reason: int) -> Answer:
        if not self.user(nick):
            return FAIL
        self.close(str(nick))
        return OK

    def GetMyINFO(self, nick: Optional[str]) -> Answer:
        m = self.members.get(nick or "")
        return (True, list(m.myinfo())) if m else FAIL

    def SetMyINFO(self, nick: Optional[str], *fields: Optional[str]) -> Answer:
        m = self.members.get(nick or "")
        if m is None:
            return FAIL
        for name, value in zip(("desc", "tag", "speed", "email", "share"), fields):
            if value is not None:
                setattr(m, name, value)
        return OK

    def _flag(self, nick: Optional[str], flag: int, on: bool) -> Answer:
        m = self.members.get(nick or "")
        if m is None or flag < 1:
            return FAIL
        speed = m.speed
        status = 1
        if speed and ord(speed[-1]) < 0x20:
            speed, status = speed[:-1], ord(speed[-1])
        status = status | flag if on else (status & ~flag) | 1
        m.speed = speed + chr(status & 0xFF)
        return OK

    def SetMyINFOFlag(self, nick: Optional[str], flag: int) -> Answer:
        return self._flag(nick, flag, True)

    def UnsetMyINFOFlag(self, nick: Optional[str], flag: int) -> Answer:
        return self._flag(nick, flag, False)

    def GetUserClass(self, nick: Optional[str]) -> Answer:
        if nick is None:
            return FAIL
        m = self.members.get(nick)
        return True, [m.uclass if m else -2]

    def _user_field(self, nick: Optional[str], name: str) -> Answer:
        if nick is None:
            return FAIL
        m = self.members.get(nick)
        return True, [getattr(m, name) if m else ""]

    def GetUserIP(self, nick: Optional[str]) -> Answer:
        return self._user_field(nick, "ip")

    def GetUserHost(self, nick: Optional[str]) -> Answer:
        return self._user_field(nick, "host")

    def GetUserCC(self, nick: Optional[str]) -> Answer:
        return self._user_field(nick, "cc")

    def GetUserHubURL(self, nick: Optional[str]) -> Answer:
        return self._user_field(nick, "hub_url")

    def GetUserExtJSON(self, nick: Optional[str]) -> Answer:
        return self._user_field(nick, "ext_json")

    def SetUserIP(self, nick: Optional[str], ip: Optional[str]) -> Answer:
        m = self.user(nick)
        if m is None or ip is None:
            return FAIL
        m.ip = ip
        return OK

    # No GeoIP database: country lookups give "", the others fail.
    def GetIPCC(self, ip: Optional[str]) -> Answer:
        return (True, [""]) if ip is not None else FAIL

    GetIPCN = GetIPCC

    def GetIPASN(self, ip: Optional[str], db: Optional[str]) -> Answer:
        return FAIL

    GetGeoIP = GetIPASN

    def GetNickList(self) -> Answer:
        return self._nicks("all")

    def GetOpList(self) -> Answer:
        return self._nicks("ops")

    def GetBotList(self) -> Answer:
        return self._nicks("bots")

    def GetUsersCount(self) -> Answer:
        return True, [sum(1 for m in self.members.values() if not m.is_bot)]

    def GetTotalShareSize(self) -> Answer:
        total = sum(int(m.share or 0) for m in self.members.values() if not m.is_bot)
        return True, [str(total)]

    def GetServFreq(self) -> Answer:
        return True, [1.0]
