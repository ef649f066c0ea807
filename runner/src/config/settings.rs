//! Per-script settings (`[defaults]` and each `[[script]]` section of
//! runner.toml), their defaults, and the plugin generation whose `vh`
//! behaviour a script gets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Per-script settings. Durations carry their unit in the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptSettings {
    /// How long the hub waits for one hook before it goes on ("allow");
    /// 0 = the shim's default (`VH_HOOK_DEADLINE_MS` in the hub's
    /// environment, 200 ms if unset).
    pub hook_deadline_ms: u32,
    /// Deadline of `OnTimer`; 0 = `hook_deadline_ms`.
    pub timer_deadline_ms: u32,
    /// Consecutive hook timeouts after which the shim skips the script's
    /// hooks until it answers a health ping; 0 = the shim's default (3).
    pub circuit_after: u32,
    /// A worker busy in one hook longer than this is killed and restarted.
    pub hook_kill_timeout_ms: u32,
    /// First restart delay after a crash; doubles per crash.
    pub restart_initial_ms: u32,
    /// Cap of the restart delay.
    pub restart_max_ms: u32,
    /// A worker up this long resets the restart delay.
    pub healthy_reset_s: u32,
    /// More than this many crashes within `crash_window_s` mark the script
    /// failed (no more restarts until `vh-runner restart`).
    pub max_crashes: u32,
    /// Window of the crash count, seconds.
    pub crash_window_s: u32,
    /// Address-space limit of the worker (RLIMIT_AS), MiB; 0 = none.
    pub memory_limit_mb: u64,
    /// CPU time limit of the worker (RLIMIT_CPU), seconds; 0 = none.
    pub cpu_time_limit_s: u64,
    /// Open files limit of the worker (RLIMIT_NOFILE); 0 = inherited.
    pub open_files: u64,
    /// Also append the worker's output to this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// Working directory of the worker; unset = the script's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables of the worker.
    pub env: BTreeMap<String, String>,
    /// Hand the hub a direct link to the worker (docs/protocol.md "Direct
    /// links"), so that hooks skip the runner; false sends every hook
    /// through the runner, as before.
    pub direct_link: bool,
    /// Whose `vh` behaviour the script gets (docs/architecture.md "Semantics"):
    /// `"A"` (python_pi 1.6) or `"B"` (1.7), for a script written for the
    /// other plugin generation; unset = the hub's detected generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantics: Option<Semantics>,
    /// Let the worker pipeline `vh.*` sends whose result the script
    /// discards (docs/protocol.md "Pipelined calls"); false makes every
    /// call wait for the hub's answer, as before (`VH_PIPELINE_CALLS=0`).
    pub pipeline_calls: bool,
    /// Restrict the worker with Landlock (docs/admin.md "Sandbox"): it may
    /// read its own folder, its Python and the system's libraries, write
    /// only its state folder; plus `sandbox_read` and `sandbox_write`.
    pub sandbox: bool,
    /// Extra absolute paths a sandboxed script may read (and run).
    pub sandbox_read: Vec<PathBuf>,
    /// Extra absolute paths a sandboxed script may write (and read).
    pub sandbox_write: Vec<PathBuf>,
    /// false: a sandboxed script may not connect or bind any TCP port
    /// (Landlock ABI 4); needs `sandbox = true`.
    pub network: bool,
    /// Refuse the script (its `!pyload` fails) when the kernel cannot
    /// enforce its sandbox or `network = false`, instead of logging it and
    /// running it less restricted.
    pub sandbox_required: bool,
    /// The Python 2.7 that scripts written for Python 2 fall back to
    /// ([`crate::py2`]); read from `[defaults]` at start-up.
    /// Unset: `python2.7` or `python2` on `PATH`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python2: Option<PathBuf>,
}

/// A plugin generation whose `vh` behaviour a script gets (docs/abi.md
/// §7, one column each; docs/compatibility.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Semantics {
    /// python_pi 1.6.0.0: `''` for an empty string, …
    A,
    /// python_pi 1.7: `None` for an empty string, …
    B,
}

impl Semantics {
    /// `"A"` or `"B"`, as `LoadScript.semantics` carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            Semantics::A => "A",
            Semantics::B => "B",
        }
    }
}

impl Default for ScriptSettings {
    fn default() -> ScriptSettings {
        ScriptSettings {
            hook_deadline_ms: 0,
            timer_deadline_ms: 0,
            circuit_after: 0,
            hook_kill_timeout_ms: 10_000,
            restart_initial_ms: 500,
            restart_max_ms: 30_000,
            healthy_reset_s: 60,
            max_crashes: 5,
            crash_window_s: 300,
            memory_limit_mb: 0,
            cpu_time_limit_s: 0,
            open_files: 0,
            log_file: None,
            cwd: None,
            env: BTreeMap::new(),
            direct_link: true,
            semantics: None,
            pipeline_calls: true,
            sandbox: false,
            sandbox_read: Vec::new(),
            sandbox_write: Vec::new(),
            network: true,
            sandbox_required: false,
            python2: None,
        }
    }
}
