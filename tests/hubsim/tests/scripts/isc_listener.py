"""Inter-script test: reports every OnScriptCommand, with the bot names it
sees at that moment (generation A updates them before the hook runs)."""

import os

import vh


def OnScriptCommand(cmd, data, plugin, script):
    vh.mc(
        "#%d got %s(%s) from %s:%s; bot %s, opchat %s"
        % (vh.myid, cmd, data, plugin, os.path.basename(script), vh.botname, vh.opchatname)
    )
