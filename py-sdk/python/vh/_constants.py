# -*- coding: utf-8 -*-
"""Constants of the ``vh`` module with the hub's values (docs/abi.md §7.4; ban
flags as generation A, the bit flags the hub's ``Ban()`` expects).

The Python 2 worker's ``vh`` package imports this very file (vh-runner
writes it into that package), so it stays Python 2.7 syntax."""

# Connection close reasons (eCR_*), as the hub numbers them.
eCR_DEFAULT = 0
eCR_INVALID_USER = 1
eCR_KICKED = 2
eCR_FORCEMOVE = 3
eCR_QUIT = 4
eCR_HUB_LOAD = 5
eCR_TIMEOUT = 6
eCR_TO_ANYACTION = 7
eCR_USERLIMIT = 8
eCR_SHARE_LIMIT = 9
eCR_TAG_NONE = 10
eCR_TAG_INVALID = 11
eCR_PASSWORD = 12
eCR_LOGIN_ERR = 13
eCR_SYNTAX = 14
eCR_INVALID_KEY = 15
eCR_RECONNECT = 16
eCR_CLONE = 17
eCR_SELF = 18
eCR_BADNICK = 19
eCR_NOREDIR = 20

# Results of IsRobotNickBad (eBOT_*).
eBOT_OK = 0
eBOT_EXISTS = 1
eBOT_WITHOUT_NICK = 2
eBOT_BAD_CHARS = 3
eBOT_RESERVED_NICK = 4
eBOT_API_ERROR = 5

# Ban types (eBF_*), bit flags.
eBF_NICKIP = 1
eBF_IP = 2
eBF_NICK = 4
eBF_RANGE = 8
eBF_HOST1 = 16
eBF_HOST2 = 32
eBF_HOST3 = 64
eBF_SHARE = 128
eBF_PREFIX = 256
eBF_HOSTR1 = 512
