# Shape: the README's "Constants" list, read at import (close reasons,
# bot-nick checks, ban kinds; eCR_BANNED, eCR_PLUGIN and eBF_REVERSE are
# the README's own names, which vh-runner's Python 3 worker provides as
# documented extras; python_pi 1.6 has none of them, and neither has the
# Python 2 worker, which is 1.6's module exactly).
# answers: OnParsedMsgChat
# fails-under: py2 AttributeError
import vh

REASONS = [vh.eCR_KICKED, vh.eCR_TIMEOUT, vh.eCR_BANNED, vh.eCR_TO_ANYACTION,
           vh.eCR_LOGIN_ERR, vh.eCR_SYNTAX, vh.eCR_INVALID_KEY, vh.eCR_RECONNECT,
           vh.eCR_QUIT, vh.eCR_FORCEMOVE, vh.eCR_HUB_LOAD, vh.eCR_PLUGIN,
           vh.eCR_SHARE_LIMIT]
BOT = [vh.eBOT_OK, vh.eBOT_EXISTS, vh.eBOT_BAD_CHARS]
BANS = [vh.eBF_NICKIP, vh.eBF_IP, vh.eBF_NICK, vh.eBF_RANGE, vh.eBF_HOST1,
        vh.eBF_HOST2, vh.eBF_HOST3, vh.eBF_HOSTR1, vh.eBF_PREFIX, vh.eBF_REVERSE]


def OnParsedMsgChat(nick, message):
    return 1
