//! The shim's settings. The hub gives a plugin no way to pass options to
//! the wrapper, so they come from the hub process's environment (set them
//! in the hub's systemd unit or start script), read once at `w_Begin`.

use std::path::PathBuf;
use std::time::Duration;

/// Where `vh-runner serve` listens unless told otherwise (its systemd unit
/// creates `/run/vh-runner` with `RuntimeDirectory=`).
pub const DEFAULT_SOCKET: &str = "/run/vh-runner/runner.sock";
/// Default hook deadline: how long the hub thread waits for one hook.
pub const DEFAULT_HOOK_DEADLINE_MS: u64 = 200;
/// Default load deadline: interpreter start plus the script's top-level code.
pub const DEFAULT_LOAD_DEADLINE_MS: u64 = 10_000;
/// Default unload deadline: the script's `UnLoad()` and the worker's exit.
pub const DEFAULT_UNLOAD_DEADLINE_MS: u64 = 3_000;
/// How long `w_Load` waits for a connection attempt to the runner.
pub const CONNECT_WAIT_MS: u64 = 2_000;

/// Effective settings of one `w_Begin` .. `w_End` period.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `VH_RUNNER_SOCKET`: the runner's Unix socket.
    pub socket: PathBuf,
    /// `VH_HOOK_DEADLINE_MS`: per hook call; past it the hook allows.
    pub hook_deadline: Duration,
    /// `VH_LOAD_DEADLINE_MS`: per `w_Load`; past it the load fails.
    pub load_deadline: Duration,
    /// `VH_UNLOAD_DEADLINE_MS`: per `w_Unload`.
    pub unload_deadline: Duration,
    /// `VH_SHIM_TABLE`: `A`, `B` or `auto` (docs/abi.md §6.4).
    pub table_override: Option<String>,
    /// `VH_HUB_ENCODING`: the hub's encoding if the hub config should not
    /// be asked (e.g. `CP1251`).
    pub hub_encoding: Option<String>,
    /// `VH_DIRECT_LINKS`: `0` makes every hook go through the runner
    /// instead of the workers' direct links (docs/protocol.md "Direct
    /// links"); on by default.
    pub direct_links: bool,
    /// `VH_SPIN_US`: how long the hub thread checks a direct link for the
    /// answer before it sleeps (`vh_proto::direct::spin`); 0 = never; default 50.
    pub spin: Duration,
}

fn millis(var: &str, default: u64) -> Duration {
    let ms = std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(default);
    Duration::from_millis(ms)
}

impl Settings {
    /// Reads the environment; unset or unparsable values take the defaults.
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Settings {
            socket: var("VH_RUNNER_SOCKET").map_or_else(|| DEFAULT_SOCKET.into(), PathBuf::from),
            hook_deadline: millis("VH_HOOK_DEADLINE_MS", DEFAULT_HOOK_DEADLINE_MS),
            load_deadline: millis("VH_LOAD_DEADLINE_MS", DEFAULT_LOAD_DEADLINE_MS),
            unload_deadline: millis("VH_UNLOAD_DEADLINE_MS", DEFAULT_UNLOAD_DEADLINE_MS),
            table_override: var("VH_SHIM_TABLE"),
            hub_encoding: var("VH_HUB_ENCODING"),
            direct_links: var("VH_DIRECT_LINKS").is_none_or(|v| v.trim() != "0"),
            spin: vh_proto::direct::spin::budget_from_env(),
        }
    }
}
