//! The hook table shared by both plugin generations (docs/abi.md
//! §4.1): index, Python function name, argument format, and how the plugin
//! reads the result (§4.2).

/// How the plugin interprets a hook's result (docs/abi.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultMode {
    /// `CallAll`: understands "l" and "sl".
    Generic,
    /// `OnParsedMsgChat`: also "ss" (nick, text) substitution.
    Chat,
    /// `OnParsedMsgMyINFO` / `OnFirstMyINFO`: also "sssss" substitution.
    MyInfo,
}

/// One row of docs/abi.md §4.1.
#[derive(Debug, Clone, Copy)]
pub struct Hook {
    /// Python function name; also what `w_HookName` returns.
    pub name: &'static str,
    /// The exact `w_pack` format the plugin uses for the arguments.
    pub format: &'static str,
    /// How the plugin reads the result.
    pub mode: ResultMode,
}

const fn h(name: &'static str, format: &'static str) -> Hook {
    Hook {
        name,
        format,
        mode: ResultMode::Generic,
    }
}

/// Hook index of `OnParsedMsgChat`.
pub const ON_PARSED_MSG_CHAT: usize = 3;
/// Hook index of `OnTimer`.
pub const ON_TIMER: usize = 37;
/// Stands for "a function call (`w_CallFunction`)" where a hook index is
/// expected (`HookStuck.hook`, the runner's stuck-call watch): no hook has it.
pub const FUNCTION_CALL: u32 = u32::MAX;

/// The 41 hooks, indexed by the plugin's hook number (identical in A and B).
pub const HOOKS: [Hook; 41] = [
    h("OnNewConn", "s"),
    h("OnCloseConn", "s"),
    h("OnCloseConnEx", "sls"),
    Hook {
        name: "OnParsedMsgChat",
        format: "ss",
        mode: ResultMode::Chat,
    },
    h("OnParsedMsgPM", "sss"),
    h("OnParsedMsgMCTo", "sss"),
    h("OnParsedMsgSearch", "ss"),
    h("OnParsedMsgSR", "ss"),
    Hook {
        name: "OnParsedMsgMyINFO",
        format: "ssssss",
        mode: ResultMode::MyInfo,
    },
    Hook {
        name: "OnFirstMyINFO",
        format: "ssssss",
        mode: ResultMode::MyInfo,
    },
    h("OnParsedMsgValidateNick", "s"),
    h("OnParsedMsgAny", "ss"),
    h("OnParsedMsgAnyEx", "ss"),
    h("OnOpChatMessage", "ss"),
    h("OnPublicBotMessage", "ssll"),
    h("OnUnLoad", "l"),
    h("OnCtmToHub", "sslls"),
    h("OnParsedMsgSupports", "sss"),
    h("OnParsedMsgMyHubURL", "ss"),
    h("OnParsedMsgExtJSON", "ss"),
    h("OnParsedMsgBotINFO", "ss"),
    h("OnParsedMsgVersion", "ss"),
    h("OnParsedMsgMyPass", "ss"),
    h("OnParsedMsgConnectToMe", "ssss"),
    h("OnParsedMsgRevConnectToMe", "ss"),
    h("OnUnknownMsg", "ss"),
    h("OnOperatorCommand", "ss"),
    h("OnOperatorKicks", "sss"),
    h("OnOperatorDrops", "ss"),
    h("OnOperatorDropsWithReason", "sss"),
    h("OnValidateTag", "ss"),
    h("OnUserCommand", "ss"),
    h("OnHubCommand", "sslls"),
    h("OnScriptCommand", "ssss"),
    h("OnUserInList", "s"),
    h("OnUserLogin", "s"),
    h("OnUserLogout", "s"),
    h("OnTimer", "d"),
    h("OnNewReg", "ssl"),
    h("OnNewBan", "ssss"),
    h("OnSetConfig", "sssssl"),
];

/// Hooks whose result neither the hub nor the plugin acts on (docs/abi.md §4.1
/// "Hub uses result: no", and no connection to send a `(text, n)` reply
/// worth having: the connection is closing, the user is leaving, the hub is
/// stopping, or there is none). The shim delivers them without making the
/// hub wait (docs/architecture.md "host-shim"), in order with every other message.
/// `OnUnknownMsg` is not among them: a script may answer the user.
pub const RESULT_IGNORED: [usize; 5] = [1, 2, 15, 33, 36];

/// True if the hub does not wait for hook `index` (see [`RESULT_IGNORED`]).
pub fn result_ignored(index: usize) -> bool {
    RESULT_IGNORED.contains(&index)
}

/// The hook at `index`, if it is one of the 41.
pub fn hook(index: i64) -> Option<&'static Hook> {
    usize::try_from(index).ok().and_then(|i| HOOKS.get(i))
}

/// The index of the hook named `name`.
pub fn index_of(name: &str) -> Option<usize> {
    HOOKS.iter().position(|h| h.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_spec_landmarks() {
        assert_eq!(HOOKS[ON_PARSED_MSG_CHAT].name, "OnParsedMsgChat");
        assert_eq!(HOOKS[ON_TIMER].format, "d");
        assert_eq!(index_of("OnHubCommand"), Some(32));
        assert_eq!(index_of("OnSetConfig"), Some(40));
        assert_eq!(HOOKS[9].mode, ResultMode::MyInfo);
        assert!(hook(41).is_none() && hook(-1).is_none());
        let ignored: Vec<&str> = RESULT_IGNORED.iter().map(|&i| HOOKS[i].name).collect();
        assert_eq!(
            ignored,
            [
                "OnCloseConn",
                "OnCloseConnEx",
                "OnUnLoad",
                "OnScriptCommand",
                "OnUserLogout"
            ]
        );
    }
}
