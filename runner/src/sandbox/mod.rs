//! Sandboxed scripts (docs/admin.md "Sandbox"): a worker with
//! `sandbox = true` is restricted by Linux Landlock before `exec`, in the
//! runner's spawn path, so every worker (Python 3 or 2) gets it before any
//! of the script's code runs.
//!
//! A sandboxed script may read (and run) its Python installation
//! ([`python`]), the system's shared libraries ([`SYSTEM_LIBRARIES`]),
//! `sandbox_read`; read its own folder and `/proc/self` (its own process),
//! `/dev/urandom`; write `/dev/null`, its state folder ([`state`]) and
//! `sandbox_write`. With `network = false` it may not connect or bind any
//! TCP port (ABI ≥ 4). On ABI ≥ 6 it may not signal processes outside its
//! sandbox (the hub, the runner, other workers) nor reach abstract Unix
//! sockets made outside it. `no_new_privs` is set with it.
//!
//! * [`landlock`]: the syscalls, and [`kernel_abi`] for `vh-runner doctor`;
//! * [`python`]: the interpreter's folders, asked once per interpreter;
//! * [`peers`]: sandboxed workers may not connect to the runner's socket;
//! * [`state`]: the per-script state folder.

pub mod landlock;
pub mod peers;
pub mod python;
pub mod state;

use std::path::{Path, PathBuf};

pub use crate::config::sandbox_keys::check;
pub use landlock::{describe_kernel_abi, kernel_abi};

use crate::config::Resolved;
use crate::registry::Entry;
use landlock::{READ, READ_EXEC, READ_WRITE, Ruleset};

/// The system's shared libraries and the loader's cache: read and run.
pub const SYSTEM_LIBRARIES: [&str; 9] = [
    "/lib",
    "/lib64",
    "/lib32",
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib32",
    "/usr/libx32",
    "/usr/local/lib",
    "/etc/ld.so.cache",
];

/// Lowest Landlock ABI with TCP rules (`network = false`).
pub const NET_ABI: u32 = 4;

/// The runner's environment variable that caps the Landlock ABI it uses
/// (`0`: as if the kernel had none), to try or test what happens on an
/// older kernel (docs/admin.md "Sandbox").
pub const ABI_CAP_ENV: &str = "VH_RUNNER_LANDLOCK_ABI";

/// The ABI the sandbox uses: the kernel's, capped by [`ABI_CAP_ENV`].
pub fn usable_abi() -> Option<u32> {
    let cap = std::env::var(ABI_CAP_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok());
    match (kernel_abi(), cap) {
        (Some(abi), Some(cap)) => Some(abi.min(cap)).filter(|v| *v >= 1),
        (abi, _) => abi,
    }
}

/// What a worker is restricted by, as `vh-runner status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Not sandboxed (not asked for, or the kernel cannot).
    Off,
    /// Files restricted; network free.
    Fs,
    /// Files and TCP restricted.
    FsNet,
}

impl Level {
    /// The SANDBOX column: `-`, `fs` or `fs+net`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Off => "-",
            Level::Fs => "fs",
            Level::FsNet => "fs+net",
        }
    }
}

/// One worker's sandbox, ready to be put on its `Command`
/// ([`Prepared::apply`]); made by [`prepare`] for each spawn.
pub struct Prepared {
    /// What will be enforced.
    pub level: Level,
    /// The script's state folder (`VH_STATE_DIR`), if it could be made.
    pub state_dir: Option<PathBuf>,
    ruleset: Option<Ruleset>,
    /// The interpreter's `sys.executable`, run instead of a bare `python`
    /// name (see [`Prepared::program`]).
    sys_executable: Option<PathBuf>,
}

/// Builds the sandbox of the worker about to run `script` (its absolute
/// path) with `resolved` settings under the interpreter `python` (the one
/// the worker is spawned with): makes its state folder, asks the
/// interpreter for its folders and builds the Landlock ruleset. When the
/// kernel cannot enforce what is asked, it says so in one log line (on the
/// script's first start, `first`) and goes on less restricted, or refuses
/// the script with `sandbox_required = true`.
///
/// # Errors
/// The reason the script must not start (its `!pyload` fails with it):
/// the sandbox cannot be enforced and is required, the state folder of a
/// sandboxed script cannot be made, or its interpreter cannot be asked.
pub async fn prepare(
    resolved: &Resolved,
    python: &Path,
    script: &Path,
    entry: &Entry,
    first: bool,
) -> Result<Prepared, String> {
    let s = &resolved.settings;
    let notice = |text: String| {
        if first {
            tracing::warn!(script = %entry.name, script_id = entry.script_id, "{text}");
            entry.log("runner", &text);
        }
    };
    let dir = state::folder(&resolved.state_root, &entry.name);
    let state_dir = match state::create(&dir) {
        Ok(()) => Some(dir),
        Err(e) if s.sandbox => {
            return Err(format!(
                "cannot create the state folder {} of this sandboxed script: {e}",
                dir.display()
            ));
        }
        Err(e) => {
            notice(format!(
                "cannot create the state folder {}: {e}; VH_STATE_DIR is not set",
                dir.display()
            ));
            None
        }
    };
    let off = |state_dir| Prepared {
        level: Level::Off,
        state_dir,
        ruleset: None,
        sys_executable: None,
    };
    if !s.sandbox {
        return Ok(off(state_dir));
    }
    let refuse = |what: &str| format!("{what}; refused (sandbox_required = true)");
    let Some(abi) = usable_abi() else {
        let what = "this kernel has no Landlock: sandbox not enforced (file access and network are not restricted)";
        if s.sandbox_required {
            return Err(refuse(what));
        }
        notice(format!("{what}; the script runs unsandboxed"));
        return Ok(off(state_dir));
    };
    let deny_tcp = !s.network;
    if deny_tcp && abi < NET_ABI {
        let what = format!(
            "the kernel's Landlock ABI {abi} has no network rules (ABI {NET_ABI} has): network = false not enforced"
        );
        if s.sandbox_required {
            return Err(refuse(&what));
        }
        notice(format!("{what}; files are restricted, TCP is not"));
    }
    let python = python::paths(python, &s.env, script.parent())
        .await
        .map_err(|e| format!("sandbox: cannot ask the interpreter for its folders: {e}"))?;
    let mut ruleset = Ruleset::new(abi, deny_tcp)
        .map_err(|e| format!("sandbox: the kernel refused a Landlock ruleset: {e}"))?;
    let mut rules: Vec<(PathBuf, u64, bool)> = Vec::new();
    let mut add = |p: &Path, access: u64, said: bool| rules.push((p.to_path_buf(), access, said));
    for lib in SYSTEM_LIBRARIES {
        add(Path::new(lib), READ_EXEC, false);
    }
    if let Some(exe) = &python.executable {
        add(exe, READ_EXEC, false);
    }
    for p in &python.prefixes {
        add(p, READ_EXEC, false);
    }
    for p in &python.module_dirs {
        add(p, READ, false);
    }
    if let Some(dir) = script.parent() {
        add(dir, READ, false);
    }
    add(
        Path::new("/dev/null"),
        READ_WRITE | landlock::FS_IOCTL_DEV,
        false,
    );
    add(Path::new("/dev/urandom"), READ, false);
    for p in &s.sandbox_read {
        add(p, READ_EXEC, true);
    }
    for p in &s.sandbox_write {
        add(p, READ_WRITE, true);
    }
    if let Some(dir) = &state_dir {
        add(dir, READ_WRITE, false);
    }
    for (path, access, said) in rules {
        match ruleset.allow(&path, access) {
            Ok(()) => {}
            // Not on this system (/lib32, a zip on sys.path): nothing to allow.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !said => {}
            Err(e) => notice(format!(
                "sandbox: cannot allow {}: {e}; it stays closed",
                path.display()
            )),
        }
    }
    Ok(Prepared {
        level: if deny_tcp && abi >= NET_ABI {
            Level::FsNet
        } else {
            Level::Fs
        },
        state_dir,
        ruleset: Some(ruleset),
        sys_executable: python.sys_executable.clone(),
    })
}

impl Prepared {
    /// The program to start for the configured interpreter `python`: when
    /// sandboxed and `python` is a bare name (`python3`, found on `PATH`),
    /// the interpreter's own `sys.executable`, because a wrapper found on
    /// `PATH` first (a pyenv shim, a shell script) could not run inside the
    /// sandbox; otherwise `python` as configured.
    pub fn program<'a>(&'a self, python: &'a Path) -> &'a Path {
        match &self.sys_executable {
            Some(exe) if python.components().count() == 1 && self.ruleset.is_some() => exe,
            _ => python,
        }
    }

    /// Puts the sandbox on the worker's command: `VH_STATE_DIR` (and, when
    /// sandboxed, `TMPDIR` = the state folder unless the script's `env`
    /// sets it, since `/tmp` is closed), read access to the command's own
    /// `PYTHONPATH` entries, and the restriction itself, run in the child
    /// before `exec` ([`landlock::ChildHook::enforce`]). Keep `self` alive
    /// until the command has been spawned.
    pub fn apply(&mut self, cmd: &mut tokio::process::Command) {
        if let Some(dir) = &self.state_dir {
            cmd.env("VH_STATE_DIR", dir);
        }
        let Some(ruleset) = self.ruleset.as_mut() else {
            return;
        };
        let std_cmd = cmd.as_std();
        let cwd = std_cmd.get_current_dir().map(Path::to_path_buf);
        let mut tmpdir_set = false;
        for (key, value) in std_cmd.get_envs() {
            match (key.to_str(), value) {
                (Some("TMPDIR"), Some(_)) => tmpdir_set = true,
                (Some("PYTHONPATH"), Some(v)) => {
                    for p in std::env::split_paths(v).filter(|p| !p.as_os_str().is_empty()) {
                        let p = match &cwd {
                            Some(c) if p.is_relative() => c.join(p),
                            _ => p,
                        };
                        let _ = ruleset.allow(&p, READ);
                    }
                }
                _ => {}
            }
        }
        if let (false, Some(dir)) = (tmpdir_set, &self.state_dir) {
            cmd.env("TMPDIR", dir);
        }
        let hook = ruleset.child_hook(READ);
        // SAFETY: `enforce` is async-signal-safe (raw syscalls on data
        // copied into the closure); the ruleset fd outlives the spawn.
        unsafe {
            cmd.pre_exec(move || hook.enforce());
        }
    }
}

#[cfg(test)]
mod tests;
