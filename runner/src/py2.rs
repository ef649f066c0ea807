//! Python 2.7 workers (docs/architecture.md "Python 2.7 scripts"): scripts
//! written for python_pi 1.6 run unchanged, each in its own Python 2.7
//! worker, beside Python 3 workers on the same hub.
//!
//! * The runner ships the Python 2 `vh` package itself (no pip in Python
//!   2): [`PACKAGE`] is embedded in the binary and [`install`] writes it at
//!   start-up into a private 0700 directory beside the runner's socket
//!   (`<socket>.py2`), which goes on the Python 2 workers' `PYTHONPATH`.
//!   What both workers share is one file each, the Python 3 SDK's own,
//!   written into this package too (the last entries of [`PACKAGE`]): the
//!   function, hook and constant tables, the script attributes, the limits,
//!   the main thread's switch over its events and the discarded-result
//!   detector. The wire codec runs off the schema generated from
//!   `proto/vh.proto` ([`vh_proto::PY_SCHEMA`]).
//! * Which interpreter: a `[[script]]`'s `python` wins; else, with
//!   generation A's semantics and a Python 2.7 known (`[defaults]
//!   python2`, else `python2.7`/`python2` on `PATH`, [`find_python2`]),
//!   the script runs in Python 2.7 as python_pi 1.6 ran every script, and
//!   is loaded again under the default Python 3 if that fails as Python 3
//!   code fails there ([`fails_as_python3`]); else it is loaded under the
//!   default (Python 3) interpreter, and if that fails as Python 2 code
//!   fails there ([`fails_as_python2`]) and a Python 2.7 is known, it is
//!   loaded again under Python 2.7.
//! * Python 2 workers take direct links to the hub as Python 3 workers do
//!   (docs/protocol.md "Direct links").

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

mod fallback;
pub use fallback::{PYTHON2_ONLY_MODULES, both_failed, fails_as_python2, fails_as_python3};

/// The files of the Python 2 `vh` package, by path inside the package
/// directory. Those after `vh/_schema.py` are the Python 3 SDK's own
/// (shared, not copied: Python 2.7 and 3 syntax alike;
/// `py-sdk/tests/test_py2_shared.py` checks that they compile under 2.7 and
/// that every module the Python 2 package imports is here).
pub const PACKAGE: &[(&str, &str)] = &[
    (
        "vh/__init__.py",
        include_str!("../../py-sdk/python2/vh/__init__.py"),
    ),
    (
        "vh/_api.py",
        include_str!("../../py-sdk/python2/vh/_api.py"),
    ),
    (
        "vh/_channel.py",
        include_str!("../../py-sdk/python2/vh/_channel.py"),
    ),
    (
        "vh/_errors.py",
        include_str!("../../py-sdk/python2/vh/_errors.py"),
    ),
    (
        "vh/_fast.py",
        include_str!("../../py-sdk/python2/vh/_fast.py"),
    ),
    (
        "vh/_frames.py",
        include_str!("../../py-sdk/python2/vh/_frames.py"),
    ),
    (
        "vh/_held.py",
        include_str!("../../py-sdk/python2/vh/_held.py"),
    ),
    (
        "vh/_hook_loop.py",
        include_str!("../../py-sdk/python2/vh/_hook_loop.py"),
    ),
    (
        "vh/_spin.py",
        include_str!("../../py-sdk/python2/vh/_spin.py"),
    ),
    (
        "vh/_runtime.py",
        include_str!("../../py-sdk/python2/vh/_runtime.py"),
    ),
    (
        "vh/_wire.py",
        include_str!("../../py-sdk/python2/vh/_wire.py"),
    ),
    (
        "vh/worker.py",
        include_str!("../../py-sdk/python2/vh/worker.py"),
    ),
    ("vh/_schema.py", vh_proto::PY_SCHEMA),
    (
        "vh/_functions.py",
        include_str!("../../py-sdk/python/vh/_functions.py"),
    ),
    (
        "vh/_hooks.py",
        include_str!("../../py-sdk/python/vh/_hooks.py"),
    ),
    (
        "vh/_constants.py",
        include_str!("../../py-sdk/python/vh/_constants.py"),
    ),
    (
        "vh/_discard.py",
        include_str!("../../py-sdk/python/vh/_discard.py"),
    ),
    (
        "vh/_limits.py",
        include_str!("../../py-sdk/python/vh/_limits.py"),
    ),
    (
        "vh/_attributes.py",
        include_str!("../../py-sdk/python/vh/_attributes.py"),
    ),
    (
        "vh/_main_loop.py",
        include_str!("../../py-sdk/python/vh/_main_loop.py"),
    ),
];

/// `vh/_native.so`: the Python 2 worker's compiled hook loop
/// (`py-sdk/python2-native`, built by `runner/build.rs` for this binary's
/// target), which `vh._hook_loop` uses where it loads.
pub const NATIVE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/_native.so"));

/// `vh/_link.py`: which hooks the hub does not wait for
/// ([`vh_proto::hooks::RESULT_IGNORED`]), whose answers a worker sends to
/// the runner rather than on its direct link (docs/protocol.md).
pub fn link_module() -> String {
    let ignored: Vec<String> = vh_proto::hooks::RESULT_IGNORED
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "# Written by vh-runner from vh_proto::hooks; do not edit.\n\
         # Hooks whose result the hub ignores: their answers go to the runner.\n\
         RESULT_IGNORED = frozenset([{}])\n",
        ignored.join(", ")
    )
}

/// Writes [`PACKAGE`], [`link_module`] and [`NATIVE`] into `dir` (created
/// with mode 0700 if missing; the `vh` folder inside it too), each file
/// through a new file and a rename (a worker may have the old module
/// mapped), and returns `dir`, the directory to put on `PYTHONPATH`.
///
/// # Errors
/// The directory or a file cannot be created or written.
pub fn install(dir: &Path) -> std::io::Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder.create(dir.join("vh"))?;
    let link = link_module();
    let generated = [("vh/_link.py", link.as_bytes()), ("vh/_native.so", NATIVE)];
    let texts = PACKAGE.iter().map(|(name, text)| (*name, text.as_bytes()));
    for (name, bytes) in texts.chain(generated) {
        let target = dir.join(name);
        let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
    }
    Ok(dir.to_path_buf())
}

/// What the runner found at start-up: its Python 2.7 and the package dir.
#[derive(Debug, Clone, Default)]
pub struct Python2 {
    /// The Python 2.7 for scripts that fall back to it; `None`: none found.
    pub python: Option<PathBuf>,
    /// Where [`install`] wrote the package (`None` if it could not).
    pub package_dir: Option<PathBuf>,
}

static PYTHON2: OnceLock<Python2> = OnceLock::new();
/// `[defaults] python2` and the runner's socket, from [`configure`].
static CONFIGURED: OnceLock<(Option<PathBuf>, Option<PathBuf>)> = OnceLock::new();

/// At start-up: notes `[defaults] python2` and the runner's socket (cheap;
/// the search runs in [`get`]). Later calls are ignored.
pub fn configure(python2: Option<&Path>, socket: &Path) {
    let _ = CONFIGURED.set((python2.map(Path::to_path_buf), Some(socket.to_path_buf())));
}

/// `dir` as a private directory of this process's user: created with mode
/// 0700 if missing; if it exists it must be a real directory (not a
/// symlink) owned by us, with no access for others.
///
/// # Errors
/// It cannot be created, or exists and is not such a directory.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(dir) {
        Ok(m)
            if m.is_dir()
                && m.uid() == nix::unistd::geteuid().as_raw()
                && m.mode() & 0o077 == 0 =>
        {
            Ok(())
        }
        Ok(_) => Err(std::io::Error::other(
            "exists and is not a private directory of this user",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().mode(0o700).create(dir)
        }
        Err(e) => Err(e),
    }
}

/// Where the package goes: `<socket>.py2` beside the runner's socket (its
/// private run directory under systemd; the same directory again after a
/// restart, so nothing piles up), else a new directory under
/// `$XDG_RUNTIME_DIR` or the temp dir.
fn package_dir(socket: Option<&Path>) -> Option<PathBuf> {
    if let Some(socket) = socket {
        let mut name = socket.as_os_str().to_owned();
        name.push(".py2");
        let dir = PathBuf::from(name);
        match private_dir(&dir).and_then(|()| install(&dir)) {
            Ok(d) => return Some(d),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot write the Python 2 vh package beside the socket; using a temporary directory");
            }
        }
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "vh-runner-py2-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    match install(&dir) {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the Python 2 vh package");
            None
        }
    }
}

/// The runner's Python 2 set-up. The first call finds the Python 2.7 (the
/// configured one, else `python2.7`/`python2` on `PATH`), installs the
/// package (see [`package_dir`]), and logs what it found; it runs
/// interpreters, so the runner makes it on a blocking thread at start-up,
/// before it opens its socket. Later calls get the same answer.
pub fn get() -> Python2 {
    PYTHON2
        .get_or_init(|| {
            let (configured, socket) = CONFIGURED.get().cloned().unwrap_or_default();
            let python = find_python2(configured.as_deref());
            match &python {
                Some(p) => {
                    tracing::info!(python2 = %p.display(), "Python 2.7 for Python 2 scripts")
                }
                None => tracing::info!(
                    "no Python 2.7 found (set [defaults] python2, or put python2.7 on PATH): \
                     Python 2 scripts will not load"
                ),
            }
            let package_dir = package_dir(socket.as_deref());
            Python2 {
                python,
                package_dir,
            }
        })
        .clone()
}

/// Removes the package directory [`get`] made (at shutdown).
pub fn cleanup() {
    if let Some(dir) = PYTHON2.get().and_then(|p| p.package_dir.as_ref()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// `configured` if it is a Python 2.7, else the first `python2.7` or
/// `python2` on `PATH` that is one.
pub fn find_python2(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = configured {
        if version_of(p).as_deref() == Some("2.7") {
            return Some(p.to_path_buf());
        }
        tracing::warn!(python2 = %p.display(), "[defaults] python2 is not a Python 2.7");
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["python2.7", "python2"] {
            let candidate = dir.join(name);
            if candidate.is_file() && version_of(&candidate).as_deref() == Some("2.7") {
                return Some(candidate);
            }
        }
    }
    None
}

static VERSIONS: Mutex<Option<HashMap<PathBuf, Option<String>>>> = Mutex::new(None);

/// `"2.7"`, `"3.12"`, … for the interpreter `python` (asked once, then
/// remembered); `None` if it does not run.
pub fn version_of(python: &Path) -> Option<String> {
    if let Some(v) = VERSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .get(python)
    {
        return v.clone();
    }
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .filter(|v| !v.is_empty());
    VERSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(python.to_path_buf(), out.clone());
    out
}

/// True if `version` (as [`version_of`] gives it) is a Python 2.
pub fn is_python2(version: &str) -> bool {
    version.starts_with("2.")
}

/// `PYTHONPATH` for a Python 2 worker: the package directory first, then
/// whatever the worker's environment already had.
pub fn pythonpath(package_dir: &Path, existing: Option<&str>) -> String {
    match existing.filter(|e| !e.is_empty()) {
        Some(e) => format!("{}:{e}", package_dir.display()),
        None => package_dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests;
