"""The fake hub's callbacks, part 2: registrations, bans, robots, the
database, restrictions, configuration, commands and script commands (docs/abi.md
§6.3). ``SetConfig``, ``KickUser``, ``ParseCommand`` and
``ScriptCommand`` fire hooks back into the script (§9.2).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from .._functions import RESTRICTIONS
from .state import CLASS_OPERATOR, FAIL, OK, VALID_CLASSES, Answer, Ban, HubState, User

#: ``UserRestrictions``' periods, in the order of its parameters (§6.3).
_RESTRICTED = tuple(name for name, _bit in RESTRICTIONS)
_PERIOD = re.compile(r"(\d+(?:\.\d*)?)([smhdwMy]?)\Z")
#: Seconds per unit of a hub period ("30", "30s", "5m", "3h", "2d", "1w", "1M", "1y").
_PERIOD_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PERIOD_S.update({"M": 2592000, "y": 31536000})


class HubCallbacks(HubState):
    """Callbacks about the hub's records, configuration and commands."""

    # -- registrations, bans, robots --------------------------------------------

    def AddRegUser(self, nick: Optional[str], uclass: int, *_: Optional[str]) -> Answer:
        if not nick or uclass not in VALID_CLASSES or nick in self.regs:
            return FAIL
        self.regs[nick] = uclass
        return OK

    def DelRegUser(self, nick: Optional[str]) -> Answer:
        return OK if self.regs.pop(nick or "", None) is not None else FAIL

    def SetRegClass(self, nick: Optional[str], uclass: int) -> Answer:
        if nick not in self.regs or uclass not in VALID_CLASSES:
            return FAIL
        self.regs[str(nick)] = uclass
        return OK

    def Ban(
        self, op: Optional[str], nick: Optional[str], reason: Optional[str], *rest: int
    ) -> Answer:
        if op is None or nick is None:
            return FAIL
        seconds, ban_type = rest
        m = self.user(nick)
        until = self.now + seconds if seconds > 0 else 0.0
        self.bans.append(Ban(op, nick, m.ip if m else "", reason or "", seconds, ban_type, until))
        return OK

    def _del_temp_bans(self, key: Optional[str], by_ip: bool) -> Answer:
        if key is None:
            return FAIL
        self.bans = [b for b in self.bans if not (b.until and (b.ip if by_ip else b.nick) == key)]
        return OK

    def DelNickTempBan(self, nick: Optional[str]) -> Answer:
        return self._del_temp_bans(nick, False)

    def DelIPTempBan(self, ip: Optional[str]) -> Answer:
        return self._del_temp_bans(ip, True)

    def robot_nick_check(self, nick: Optional[str]) -> int:
        """``eBOT_*`` code of a nick (docs/abi.md §6.3 ``IsRobotNickBad``)."""
        if not nick:
            return 2
        if any(ord(c) < 0x20 or c in " $|<>" for c in nick):
            return 3
        if nick in (self.botname, self.opchatname):
            return 4
        m = self.members.get(nick)
        return 1 if m and m.is_bot else 0

    def IsRobotNickBad(self, nick: Optional[str]) -> Answer:
        return True, [self.robot_nick_check(nick)]

    def AddRobot(self, nick: Optional[str], uclass: int, *info: Optional[str]) -> Answer:
        if None in info or self.robot_nick_check(nick) or nick in self.members:
            return FAIL
        desc, speed, email, share = (str(x) for x in info)
        uclass = uclass if uclass in VALID_CLASSES else 0
        self.members[str(nick)] = User(
            str(nick), uclass, desc=desc, speed=speed, email=email, share=share, is_bot=True
        )
        return OK

    def DelRobot(self, nick: Optional[str]) -> Answer:
        m = self.members.get(nick or "")
        if m is None or not m.is_bot or m.nick in (self.botname, self.opchatname):
            return FAIL
        del self.members[m.nick]
        return OK

    def SQL(self, query: Optional[str], limit: int) -> Answer:
        """No database: every query fails as the hub's does, ``(0, 0, 0)``."""
        return True, [0, 0, 0]

    # -- restrictions, configuration, topic, scripts --------------------------------

    def UserRestrictions(self, nick: Optional[str], *items: Optional[str]) -> Answer:
        m = self.user(nick)
        if m is None:
            return FAIL
        until = dict(m.restricted_until)
        for name, item in zip(_RESTRICTED, items):
            if not item:
                continue
            found = _PERIOD.match(item)
            if item == "0":
                until[name] = 0.0
            elif item == "1":
                until[name] = self.now + 604800
            elif found:
                until[name] = self.now + float(found.group(1)) * _PERIOD_S[found.group(2)]
            else:
                return FAIL
        m.restricted_until = until
        mask = sum(bit for name, bit in RESTRICTIONS if until.get(name, 0) > self.now)
        return True, [mask]

    def GetConfig(self, conf: Optional[str], var: Optional[str], default: Optional[str]) -> Answer:
        if conf is None or var is None:
            return FAIL
        value = self.config.get((conf, var), default)
        return (True, [value]) if value is not None else FAIL

    def SetConfig(self, conf: Optional[str], var: Optional[str], value: Optional[str]) -> Answer:
        """Fires ``OnSetConfig`` (which may veto), then sets; fails even when
        it set the value, as the plugin does (docs/abi.md §6.3)."""
        if conf is None or var is None or value is None:
            return FAIL
        old = self.config.get((conf, var), "")
        if self.fire("OnSetConfig", self.botname, conf, var, value, old, -1):
            self.config[(conf, var)] = value
        return FAIL

    def Topic(self, new_topic: Optional[str]) -> Answer:
        if new_topic is not None and len(new_topic) < 1024:
            self.config[("config", "hub_topic")] = new_topic
        return True, [self.config.get(("config", "hub_topic"), "")]

    def KickUser(
        self, op: Optional[str], nick: Optional[str], reason: Optional[str], *_: Any
    ) -> Answer:
        """The op must be online (docs/abi.md §6.3); ``OnOperatorKicks`` may veto."""
        if not self.user(op) or not self.user(nick):
            return FAIL
        if not self.fire("OnOperatorKicks", op, nick, reason or ""):
            return FAIL
        self.close(str(nick))
        return OK

    def ParseCommand(self, nick: Optional[str], command: Optional[str], in_pm: int) -> Answer:
        """Runs a command as if ``nick`` sent it: ``OnHubCommand``, then
        ``OnOperatorCommand`` (op prefix, class >= 3) or ``OnUserCommand``."""
        m = self.user(nick)
        if m is None or not command:
            return FAIL
        op_prefix = self.config.get(("config", "cmd_start_op"), "!")
        user_prefix = self.config.get(("config", "cmd_start_user"), "+")
        is_op = m.uclass >= CLASS_OPERATOR and command[0] in op_prefix
        if not is_op and command[0] not in user_prefix:
            return OK
        if self.fire("OnHubCommand", m.nick, command[1:], m.uclass, 1 if in_pm else 0, command[0]):
            self.fire("OnOperatorCommand" if is_op else "OnUserCommand", m.nick, command)
        return OK

    def ScriptCommand(self, cmd: Optional[str], data: Optional[str], instant: int) -> Answer:
        """Delivers ``OnScriptCommand`` now (``instant``) or at the next tick."""
        if cmd is None or data is None:
            return FAIL
        if instant > 0:
            self.fire("OnScriptCommand", cmd, data, "python", self.script_path)
        else:
            self.script_commands.append((cmd, data))
        return OK

    def name_and_version(self, name: Optional[str], version: Optional[str]) -> Answer:
        if name:
            self.script_name = name
        if version:
            self.script_version = version
        return True, [self.script_name, self.script_version]

    def StopHub(self, code: int, delay: int) -> Answer:
        self.stopped = (code, delay)
        return OK
