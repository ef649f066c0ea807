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
    /// answer before it sleeps (`vh_proto::direct::wake`); 0 = never; default 50.
    pub spin: Duration,
}

/// A setting whose value the shim cannot use: logged at `w_Begin`, and the
/// default taken instead (docs/admin.md "The shim's settings").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The variable, e.g. `VH_HOOK_DEADLINE_MS`.
    pub name: &'static str,
    /// Its value as found.
    pub value: String,
    /// What it may be, e.g. "a whole number of milliseconds from 1 to 600000".
    pub allowed: String,
    /// The default taken instead, as written in the variable.
    pub default: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}={:?} is not allowed: {}; using the default, {}",
            self.name, self.value, self.allowed, self.default
        )
    }
}

/// Reads settings from one source of variables, noting each unusable
/// value in `invalid`.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    invalid: Vec<Invalid>,
}

impl Reader<'_> {
    /// The variable, unless unset or blank.
    fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// A whole number from `lo` to `hi` (`unit`: what it counts), else
    /// `default` (noted as invalid if the variable was set).
    fn number(&mut self, name: &'static str, unit: &str, lo: u64, hi: u64, default: u64) -> u64 {
        let Some(raw) = self.var(name) else {
            return default;
        };
        match raw.trim().parse::<u64>() {
            Ok(n) if (lo..=hi).contains(&n) => n,
            _ => {
                self.invalid.push(Invalid {
                    name,
                    value: raw,
                    allowed: format!("a whole number of {unit} from {lo} to {hi}"),
                    default: default.to_string(),
                });
                default
            }
        }
    }

    /// `0` (false) or `1` (true), else `default`.
    fn switch(&mut self, name: &'static str, default: bool) -> bool {
        match self.var(name).as_deref().map(str::trim) {
            None => default,
            Some("0") => false,
            Some("1") => true,
            Some(other) => {
                self.invalid.push(Invalid {
                    name,
                    value: other.to_string(),
                    allowed: "0 (off) or 1 (on)".into(),
                    default: u8::from(default).to_string(),
                });
                default
            }
        }
    }
}

// The limits live in `vh_proto::limits`, which the runner's config check
// shares, so runner.toml cannot ask for what the shim would refuse.
/// Longest hook deadline accepted, ms ([`vh_proto::limits::MAX_HOOK_DEADLINE_MS`]).
pub const MAX_HOOK_DEADLINE_MS: u64 = vh_proto::limits::MAX_HOOK_DEADLINE_MS as u64;
/// Longest load or unload deadline accepted, ms.
pub const MAX_LOAD_DEADLINE_MS: u64 = vh_proto::limits::MAX_LOAD_DEADLINE_MS as u64;
/// Longest spin accepted, µs.
pub const MAX_SPIN_US: u64 = vh_proto::limits::MAX_SPIN_US as u64;

impl Settings {
    /// Reads the hub process's environment ([`Settings::from_vars`]).
    pub fn from_env() -> (Settings, Vec<Invalid>) {
        Settings::from_vars(&|name| std::env::var(name).ok())
    }

    /// Reads the settings from `get`; unset ones take their defaults, and
    /// so do unusable ones, each of which is returned for the log.
    pub fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> (Settings, Vec<Invalid>) {
        let mut r = Reader {
            get,
            invalid: Vec::new(),
        };
        let ms = "milliseconds";
        let settings = Settings {
            socket: r
                .var("VH_RUNNER_SOCKET")
                .map_or_else(|| DEFAULT_SOCKET.into(), PathBuf::from),
            hook_deadline: Duration::from_millis(r.number(
                "VH_HOOK_DEADLINE_MS",
                ms,
                1,
                MAX_HOOK_DEADLINE_MS,
                DEFAULT_HOOK_DEADLINE_MS,
            )),
            load_deadline: Duration::from_millis(r.number(
                "VH_LOAD_DEADLINE_MS",
                ms,
                1,
                MAX_LOAD_DEADLINE_MS,
                DEFAULT_LOAD_DEADLINE_MS,
            )),
            unload_deadline: Duration::from_millis(r.number(
                "VH_UNLOAD_DEADLINE_MS",
                ms,
                1,
                MAX_LOAD_DEADLINE_MS,
                DEFAULT_UNLOAD_DEADLINE_MS,
            )),
            table_override: r.var("VH_SHIM_TABLE"),
            hub_encoding: r.var("VH_HUB_ENCODING"),
            direct_links: r.switch("VH_DIRECT_LINKS", true),
            spin: Duration::from_micros(r.number(
                "VH_SPIN_US",
                "microseconds",
                0,
                MAX_SPIN_US,
                vh_proto::direct::wake::DEFAULT_SPIN.as_micros() as u64,
            )),
        };
        (settings, r.invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> (Settings, Vec<Invalid>) {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(&move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn unset_values_take_the_defaults_silently() {
        let (s, invalid) = read(&[]);
        assert!(invalid.is_empty());
        assert_eq!(
            s.hook_deadline,
            Duration::from_millis(DEFAULT_HOOK_DEADLINE_MS)
        );
        assert!(s.direct_links);
        assert_eq!(s.spin, vh_proto::direct::wake::DEFAULT_SPIN);
    }

    #[test]
    fn unusable_values_are_reported_with_what_is_allowed_and_take_the_defaults() {
        let (s, invalid) = read(&[
            ("VH_HOOK_DEADLINE_MS", "2s"),
            ("VH_LOAD_DEADLINE_MS", "0"),
            ("VH_DIRECT_LINKS", "yes"),
            ("VH_SPIN_US", "40"),
        ]);
        assert_eq!(
            s.hook_deadline,
            Duration::from_millis(DEFAULT_HOOK_DEADLINE_MS)
        );
        assert_eq!(
            s.load_deadline,
            Duration::from_millis(DEFAULT_LOAD_DEADLINE_MS)
        );
        assert!(s.direct_links);
        assert_eq!(s.spin, Duration::from_micros(40));
        let names: Vec<&str> = invalid.iter().map(|i| i.name).collect();
        assert_eq!(
            names,
            [
                "VH_HOOK_DEADLINE_MS",
                "VH_LOAD_DEADLINE_MS",
                "VH_DIRECT_LINKS"
            ]
        );
        assert_eq!(
            invalid[0].to_string(),
            "VH_HOOK_DEADLINE_MS=\"2s\" is not allowed: a whole number of milliseconds from 1 to 600000; using the default, 200"
        );
    }
}
