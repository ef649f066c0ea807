//! The layout of the callback table python_pi passes to `w_Begin`
//! (docs/abi.md §6.1, §6.3): its size, and the callbacks' names and
//! argument formats in generation A's order. Plain data that both the
//! `callbacks` module (calling an entry) and the `generation` module
//! (recognising a table) read, so that neither imports the other.

/// Entries in the table python_pi passes to `w_Begin` (`W_MAX_CALLBACKS`).
pub const MAX_CALLBACKS: usize = 100;

/// Callback names in generation A's order with the argument format the
/// plugin unpacks (docs/abi.md §6.1, §6.3). Generation B inserts `GetIPCity` at 22.
/// `IsRobotNickBad` is sent as the plugin unpacks it (`s`), not as A's
/// wrapper did (`ss`, which made it always fail; docs/abi.md §7.2).
pub const A_NAMES: [(&str, &str); 56] = [
    ("SendToOpChat", "ss"),
    ("SendToActive", "sl"),
    ("SendToPassive", "sl"),
    ("SendToActiveClass", "slll"),
    ("SendToPassiveClass", "slll"),
    ("SendDataToUser", "ssl"),
    ("SendDataToAll", "slll"),
    ("SendPMToAll", "ssll"),
    ("CloseConnection", "sll"),
    ("GetMyINFO", "s"),
    ("SetMyINFO", "ssssss"),
    ("GetUserClass", "s"),
    ("GetUserHost", "s"),
    ("GetUserIP", "s"),
    ("SetUserIP", "ss"),
    ("SetMyINFOFlag", "sl"),
    ("UnsetMyINFOFlag", "sl"),
    ("GetUserHubURL", "s"),
    ("GetUserExtJSON", "s"),
    ("GetUserCC", "s"),
    ("GetIPCC", "s"),
    ("GetIPCN", "s"),
    ("GetIPASN", "ss"),
    ("GetGeoIP", "ss"),
    ("GetNickList", ""),
    ("GetOpList", ""),
    ("GetBotList", ""),
    ("AddRegUser", "slss"),
    ("DelRegUser", "s"),
    ("SetRegClass", "sl"),
    ("Ban", "sssll"),
    ("KickUser", "ssssss"),
    ("DelNickTempBan", "s"),
    ("DelIPTempBan", "s"),
    ("ParseCommand", "ssl"),
    ("ScriptCommand", "ssl"),
    ("SetConfig", "sss"),
    ("GetConfig", "sss"),
    ("IsRobotNickBad", "s"),
    ("AddRobot", "slssss"),
    ("DelRobot", "s"),
    ("SQL", "sl"),
    ("SQLQuery", "-"),
    ("SQLFetch", "-"),
    ("SQLFree", "-"),
    ("GetServFreq", ""),
    ("GetUsersCount", ""),
    ("GetTotalShareSize", ""),
    ("UserRestrictions", "sssss"),
    ("Topic", "s"),
    ("mc", "ss"),
    ("usermc", "sss"),
    ("classmc", "slls"),
    ("pm", "ssss"),
    ("name_and_version", "ss"),
    ("StopHub", "ll"),
];
